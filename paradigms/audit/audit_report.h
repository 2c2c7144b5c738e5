// report.md and report.html of an audited experiment, and of `sp_audit --compare` over several, built from
// summary.json documents (audit_summary.h) as ReportDoc blocks. Tested in tests/test_sp_audit_report.cpp
// and end to end in tests/test_sp_audit.cpp.
#pragma once
#include <string>
#include <vector>

#include "paradigms/audit/audit_summary.h"

namespace sp::audit {

struct ReportImage {
  std::string path;     // relative to the report
  std::string caption;
};

// Writes DIR/report.md and DIR/report.html (atomically). `images`: data grids to show; the ROC plot
// (lira/roc.png) is shown when it exists.
void write_experiment_report(const std::string& dir, const ojson& summary, const std::vector<ReportImage>& images);

// Writes OUT/report.md, OUT/report.html, OUT/tradeoff.png and OUT/summary.csv for several experiments.
void write_compare_report(const std::string& out, const std::vector<ojson>& summaries);

// The attack with the highest TPR at 0.1% FPR in a summary ("" when none was run).
std::string best_attack(const ojson& summary);

}  // namespace sp::audit
