// What makes a shadow's metrics.json a finished shadow's record. The file is written atomically, so a
// partial one comes from outside (a truncated copy, a hand edit, a disk error); counting it as done would
// skew the reported accuracy and cost or crash readers that index it. Both sp_train (which skips finished
// shadows) and sp_audit's scan (which reports and aggregates them) use this one check. Tested in
// tests/test_shadow_metrics.cpp.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

namespace sp {

// "" when `m` has everything readers use with the right types (shadow index, test accuracy in [0, 1],
// seconds with a finite train time); otherwise what is wrong, e.g. "test_accuracy is missing".
std::string shadow_metrics_problem(const nlohmann::json& m);

// Reads and checks a metrics.json; `problem` gets "" or what is wrong (unreadable, not JSON, a field).
nlohmann::json read_shadow_metrics(const std::string& path, std::string& problem);

// Whether `shadow_dir`/metrics.json exists and passes the check above: the one test of "this shadow is
// finished" wherever a shadow may be skipped (schedulers, SLURM submission, DFKD teachers, reports).
bool shadow_finished(const std::string& shadow_dir);

}  // namespace sp
