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
// (paradigms/engine/shadow_groups.h) assembles the [S, M] group file of the whole experiment. Tested in
// tests/test_coreset_shadow.cpp (end to end with sp_train and sp_lira).
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "paradigms/engine/experiment_run.h"
#include "paradigms/engine/progress.h"
#include "paradigms/engine/shadow_groups.h"

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
enum Group : int64_t { kOut = kGroupOut, kSelected = kGroupFirst, kInNotSelected = kGroupSecond };

}  // namespace sp::coreset
