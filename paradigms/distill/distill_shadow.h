// Paradigm "distill" inside train_shadow (paradigms/engine/shadow_train.cpp): before model k trains, a
// synthetic set is distilled from its private set D_k (distiller.h), and the model then trains only on it.
// Files in DIR/shadow/<k>/, each written atomically:
//   distill_checkpoint.safetensors  while distilling: images, image-optimiser state, iteration and the loss
//                          curve so far, written on the checkpoint clock (sp_train --checkpoint-every); a
//                          rerun resumes from it and ends with the same bytes as an uninterrupted run
//   init.png               the initial images, one row per class, IN canaries framed in red
//   distill.json           the record: method, ipc, init (each row's source index, the audit samples used),
//                          iterations, seconds, the loss curve [[iteration, loss], ...]
//   groups.npy             int64 [M]: per audit sample 0 OUT, 1 IN and an initial image, 2 IN and not
//   zca.safetensors, experts/expert_NNN.safetensors   trajectory matching: the ZCA fit of D_k and the expert
//                          trajectories (experts.h, trajectory_setup.h), kept for reruns
//   synthetic.png          the distilled images, one row per class
//   init_vs_synthetic.png  per class row: the initial images, then the distilled images they became
//   canaries.json          after training: each IN canary's prediction and its nearest synthetic image
//                          (canary_view.h)
//   synthetic.safetensors  the distilled set (synthetic_set.h); written last, it marks the distillation as
//                          done: a rerun reuses it (with distill.json) instead of distilling again
// The distillation of shadow k is deterministic from (experiment seed, k). Tested in
// tests/test_distill_shadow.cpp (end to end with sp_train, a kill and resume, sp_lira --groups).
#pragma once
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "nn/zca.h"
#include "paradigms/distill/synthetic_set.h"
#include "paradigms/engine/experiment_run.h"
#include "paradigms/engine/progress.h"

namespace sp::distill {

struct ShadowDistillation {
  SyntheticSet set;         // on the CPU, in the model-input space (ZCA-whitened for trajectory matching with zca)
  double syn_lr = 0;        // trajectory matching's learned step size (0: the recipe's rate)
  std::optional<Zca> zca;   // the whitening the audited model's queries go through (CPU)
  std::vector<int64_t> init_source;  // per synthetic row: the training-set index it started from (-1: none)
  double seconds = 0;       // distillation wall-clock seconds (summed over resumed runs)
  bool reused = false;      // synthetic.safetensors was already there
  nlohmann::json metrics;   // the "distill" object of metrics.json
};

// Distils (or reuses) model k's synthetic set from ts (D_k).
ShadowDistillation distill_shadow(const ExperimentRun& run, int k, const data::TrainingSet& ts, Stream& s,
                                  ProgressPrinter* progress);

// Checks every shadow's private set and the OOD set against the configuration before any work.
void check_distill_experiment(const ExperimentRun& run);

}  // namespace sp::distill
