// sp_lira's outputs: results.json (the schema of issue 5 plus the epsilon bound, bootstrap interval,
// member counts and the settings used), the ROC CSV files and the console table. Tested in
// tests/test_lira_cli.cpp.
#pragma once
#include <string>

#include <nlohmann/json.hpp>

#include "attacks/lira_run.h"

namespace sp::lira {

nlohmann::ordered_json metrics_json(const Metrics& m);
// Median, range and per-model details of one attack's one-run epsilon bounds.
// `valid`: AttackResult::one_run_valid (an invalid bound is written with the reason).
nlohmann::ordered_json one_run_json(const std::vector<OneRunResult>& v, bool valid);
// Why a reference-based attack's one-run bound is not a valid lower bound without equalized folds.
inline constexpr const char* kOneRunCaveat =
    "not a valid lower bound: without --equalize-folds the leave-one-out reference counts differ with the target's "
    "membership, which shifts the scores even without leakage";
nlohmann::ordered_json results_json(const LiraResult& r, const LiraConfig& cfg);
// threshold,fpr,tpr,fp,tp per thinned ROC point.
std::string roc_csv(const Metrics& m);
std::string format_table(const LiraResult& r, const LiraConfig& cfg);

}  // namespace sp::lira
