// report.md and report.html of an audited experiment, and of `sp_audit --compare` over several, built from
// summary.json documents (audit_summary.h) as ReportDoc blocks; the experiment's paradigm adds its section,
// names its sp_lira groups and adds its column to the comparison (paradigms/paradigm.h). Tested in tests/test_sp_audit_report.cpp
// and end to end in tests/test_sp_audit.cpp.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "paradigms/audit/audit_summary.h"

namespace sp::audit {

struct ReportImage {
  // A constructor rather than an aggregate, so the many {path, caption} images need not spell out `svg`.
  ReportImage(std::string p, std::string c, std::string s = "")
      : path(std::move(p)), caption(std::move(c)), svg(std::move(s)) {}
  std::string path;     // relative to the report; what report.md shows
  std::string caption;
  std::string svg;      // a vector drawing of the same plot for report.html, when there is one
};

// Writes DIR/report.md and DIR/report.html (atomically). `images`: data grids and plots to show; the ROC plot
// (lira/roc.png, and lira/roc.svg in the HTML) is shown when it exists.
void write_experiment_report(const std::string& dir, const ojson& summary, const std::vector<ReportImage>& images);

// Writes OUT/report.md, OUT/report.html, OUT/tradeoff.png, OUT/tradeoff.svg (both absent in a build without
// plots) and OUT/summary.csv for several experiments.
void write_compare_report(const std::string& out, const std::vector<ojson>& summaries);

// 100 v as "12.34%" ("-" for NaN), for report sections.
std::string percent_text(double v, int digits = 2);

// The attack with the highest TPR at 0.1% FPR in a summary ("" when none was run).
std::string best_attack(const ojson& summary);

}  // namespace sp::audit
