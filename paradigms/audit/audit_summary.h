// The numbers of one audited experiment, gathered from its directory (config.json, every finished shadow's
// metrics.json, lira/results.json) into summary.json, the one source the reports, `--json`, summary.csv and
// `sp_audit --compare` read:
//   label, paradigm, config      what was run
//   shadows                      total / done / running / failed / missing (indices) and the failures' errors
//   utility                      test and train accuracy over the finished shadows: mean, std (sample), min,
//                                max, per shadow
//   coreset                      coreset experiments only: IN canaries of the finished shadows and how many
//                                their coresets kept (pooled fraction; per-shadow fractions with mean, std,
//                                min, max), coreset size
//   cost                         seconds per model: mean of each phase of metrics.json "seconds" (setup,
//                                selection, synthesis, train, evaluate, query, ...) and of their total;
//                                device-hours (sum of shadow wall seconds / 3600) on the device(s) used
//   privacy                      per attack: AUC, TPR at 0.1% and 1% FPR with the bootstrap interval of the
//                                first, epsilon lower bound, member / non-member counts
//   privacy_groups               the same per attack for each group of sp_lira --groups (coreset experiments)
//   attack_error                 why the attacks were not run (too few finished shadows, ...), else absent
// Tested in tests/test_sp_audit.cpp.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "paradigms/audit/shadow_scan.h"

namespace sp::audit {

using ojson = nlohmann::ordered_json;

// A short name of the setting: the paradigm plus the settings of its own config section, e.g.
// "coreset method=forgetting fraction=0.4".
std::string setting_label(const nlohmann::json& config);

// NaN as JSON null (JSON has no NaN), and mean / std / min / max (and the values, per_shadow) of a list.
ojson number_or_null(double v);
ojson stats_json(const std::vector<double>& v, bool per_shadow);
// The median of the finite values (NaN when there are none), and the same as JSON (null when there are none).
double median(std::vector<double> v);
nlohmann::json median_json(const std::vector<double>& v);

// lira_results: lira/results.json (null when the attacks were not run; attack_error says why). The
// experiment's paradigm (config's "paradigm") adds its entry under its name (Paradigm::summarize).
ojson build_summary(const std::string& dir, const nlohmann::json& config, const std::vector<ShadowEntry>& shadows,
                    const nlohmann::json& lira_results, const std::string& attack_error);

// One row per (experiment, attack); the header names every column.
std::string summary_csv(const std::vector<ojson>& summaries);

// The console table of one or more experiments: setting, accuracy, TPR@0.1%/1% FPR, AUC, eps, time/model.
std::string summary_table(const std::vector<ojson>& summaries);

// The value of TPR at `fpr` in a results.json attack entry, NaN when absent.
double tpr_at(const nlohmann::json& attack, double fpr);

ojson read_summary(const std::string& dir);

// sp_lira's attack results (results.json "attacks", or one group of "groups") as the summary's per-attack
// entries (AUC, TPR at 0.1% and 1% FPR, its interval, the epsilon lower bound), strongest assumptions first.
ojson privacy_entries(const nlohmann::json& attacks);
// j[key] as a number, NaN when absent or not a number (JSON null stands for NaN in the summary).
double summary_number(const ojson& j, const char* key);
// printf-style formatting of one number, "-" for NaN.
std::string format_number(const char* format, double v);  // DIR/summary.json, with errors naming the file

}  // namespace sp::audit
