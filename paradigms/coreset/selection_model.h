// The selection model of a coreset method: the experiment's model, freshly initialised from a seed and
// trained with the experiment's recipe on the model's private set for the first `epochs` epochs of that
// recipe (the schedule runs as for the whole recipe), with an optional per-step hook (forgetting events);
// and the eval-mode logits and penultimate features of every sample afterwards, copied to the host for the
// per-sample score math. Tested through tests/test_coreset_shadow.cpp (selection end to end).
#pragma once
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "paradigms/engine/progress.h"
#include "paradigms/engine/train_loop.h"

namespace sp::coreset {

struct SelectionContext {
  const Model* model = nullptr;      // the architecture (stateless; parameters live in the Trainer)
  TrainRecipe recipe;                // the experiment's recipe for the private set's size
  const DeviceData* data = nullptr;  // the private set D_k on the device, with its training labels
  Stream* stream = nullptr;
  int64_t eval_batch = 1024;         // images per eval-mode forward
  uint64_t seed = 0;                 // this shadow's selection seed
  ProgressPrinter* progress = nullptr;
  std::string name = "selection";    // prefix of progress lines
};

// One trained selection model and its per-epoch statistics.
struct SelectionRun {
  std::unique_ptr<Trainer> trainer;
  std::vector<EpochStats> history;
  nlohmann::json json() const;  // seed-free summary: per-epoch loss / accuracy / seconds
};

// Trains a selection model initialised from `seed` for `epochs` epochs; `hook` (optional) sees every step and
// `after_epoch` (optional) is called with the epoch (from 0) after each.
SelectionRun train_selection_model(const SelectionContext& ctx, uint64_t seed, int epochs,
                                   const Trainer::StepHook& hook = {},
                                   const std::function<void(int epoch)>& after_epoch = {});

// Eval-mode outputs of every sample of the private set, on the host, row-major by position.
struct HostOutputs {
  int64_t n = 0, C = 0, F = 0;
  std::vector<float> logits;    // [n, C]
  std::vector<float> features;  // [n, F]; empty unless requested
};
HostOutputs eval_outputs(const SelectionContext& ctx, Trainer& tr, bool with_features);

}  // namespace sp::coreset
