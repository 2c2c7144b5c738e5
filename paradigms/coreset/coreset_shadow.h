// Paradigm "coreset" inside train_shadow (paradigms/engine/shadow_train.cpp): between building shadow k's private
// set D_k and uploading it, the selection runs ON D_k (so an OUT canary can never be chosen) and D_k is
// restricted to the coreset, which model k then trains on with the baseline recipe. Files in
// DIR/shadow/<k>/, each written atomically before the model's training starts:
//   coreset.json   the selection's record: method, sizes, seconds, selection-model runs, score statistics
//   groups.npy     int64 [M]: per audit sample, 0 OUT, 1 IN and selected, 2 IN but not selected
//   selected.npy   int64 [K]: the coreset, ascending indices into the training set; written last, it marks
//                  the selection as done: a rerun (resume) reuses it and its coreset.json instead of
//                  selecting again
// The selection of shadow k is deterministic from (experiment seed, k). For sp_lira, experiment_groups()
// assembles the [S, M] group file of the whole experiment (see there). Tested in
// tests/test_coreset_shadow.cpp (end to end with sp_train and sp_lira).
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "paradigms/engine/experiment_run.h"
#include "paradigms/engine/progress.h"

namespace sp::coreset {

struct ShadowCoreset {
  double seconds = 0;       // the selection's wall-clock seconds (as first measured when reused)
  bool reused = false;      // selected.npy was already there
  nlohmann::json metrics;   // the "coreset" object of metrics.json
};

// Restricts ts (model k's private set) to its coreset, selecting it first unless selected.npy exists.
ShadowCoreset restrict_to_coreset(const ExperimentRun& run, int k, data::TrainingSet& ts, Stream& s,
                                  ProgressPrinter* progress);

// Group values of groups.npy.
enum Group : int64_t { kOut = 0, kSelected = 1, kInNotSelected = 2 };

// Per audit sample of model k: kOut, kSelected or kInNotSelected, from the model's keep row and coreset
// (ascending training-set indices).
std::vector<int64_t> audit_groups(const data::AuditSet& audit, const data::Membership& m, int k,
                                  const std::vector<int64_t>& selected);

// The [S, M] group array for `sp_lira --groups` from every DIR/shadow/<k>/groups.npy. sp_lira evaluates each
// group on its own (model, sample) pairs, so a group needs non-members too: every OUT pair joins group 1
// ("selected") or group 2 ("IN, not selected") by a seeded fair coin, giving each group a random half of the
// non-members. Group 1's TPR at a fixed FPR is then the attack's power on IN canaries that were in the
// coreset, group 2's on IN canaries that were left out, each against an unbiased sample of OUT pairs.
// The coin is seeded by the experiment seed. Throws naming the file when a shadow's groups.npy is missing,
// malformed or disagrees with its keep.npy.
struct GroupArray {
  int64_t S = 0, M = 0;
  std::vector<int64_t> values;  // [S, M] row-major
};
GroupArray experiment_groups(const std::string& dir);
// Writes experiment_groups(dir) as int64 [S, M] to `path` (atomically).
GroupArray write_experiment_groups(const std::string& dir, const std::string& path);
// sp_train's end of run: DIR/coreset_groups.npy once every shadow of the experiment has its groups.npy.
// Returns the path written, or "" while some shadow is still missing.
std::string write_groups_when_complete(const std::string& dir, int num_shadows);

}  // namespace sp::coreset
