// The coreset selection driver: runs the configured method on one model's private set and returns the
// chosen positions (indices into the private set), deterministic from the context's seed.
//   uniform                    a seeded uniform subset per pool (budget.h);
//   forgetting                 one selection model; forgetting events per sample (forgetting.h), top counts;
//   el2n, grand                `repeats` selection models from different seeds; scores (scores.h) averaged,
//                              top scores;
//   uncertainty                one selection model; top uncertainty (scores.h);
//   herding, kcenter           one selection model; greedy in its feature space (geometry.h).
// Pools (per class when balanced) are chosen in parallel on the host. Tested in
// tests/test_coreset_select.cpp and end to end in tests/test_coreset_shadow.cpp.
#pragma once
#include <nlohmann/json.hpp>
#include <vector>

#include "paradigms/coreset/coreset_config.h"
#include "paradigms/coreset/selection_model.h"

namespace sp::coreset {

struct SelectionResult {
  std::vector<int64_t> positions;  // ascending positions in the private set
  std::vector<double> scores;      // per position: the ranking score (empty for uniform, herding, kcenter)
  nlohmann::json details;          // selection-model runs and score statistics, for coreset.json
};

SelectionResult select_coreset(const CoresetConfig& c, const SelectionContext& ctx);

// Count of infinite values, and mean / min / max of the finite ones.
nlohmann::json score_summary(const std::vector<double>& scores);

// Seed of selection-model run r of a shadow whose selection seed is `seed`.
uint64_t selection_run_seed(uint64_t seed, int r);

}  // namespace sp::coreset
