// DP-SGD training of a Trainer's model (paradigm "dpsgd"; lira-dpsgd.md §3.1-3.2, paper-protocol.md §1.8).
// One logical step t:
//   1. Poisson batch: each of the N examples independently with probability q (poisson_sampler.h);
//   2. per physical batch of at most `physical_batch` examples: K augmented copies of each example
//      (augmentation keyed by (seed, t, copy)), per-example gradients averaged over the copies
//      (per_sample_grad.h), flat clipping factors min(1, C / (||g_e|| + 1e-6)), and their weighted sum
//      added to the step's accumulator;
//   3. Gaussian noise N(0, sigma^2 C^2) per coordinate, from Philox keyed by (seed, t);
//   4. division by the EXPECTED batch size qN (not the realised one), then the recipe's optimiser step;
//   5. parameter EMA ema = d ema + (1 - d) theta with d = min(ema_decay, (1 + t') / (10 + t')), t' the
//      number of steps taken so far (when enabled).
// Everything random depends only on (seed, t), so a run resumed at an epoch boundary continues exactly.
// Tested in tests/test_dpsgd_trainer.cpp (noise variance, determinism, resume) and end to end through
// sp_train in tests/test_sp_train_dpsgd.cpp.
#pragma once
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "kernels/host_staging.h"
#include "paradigms/dpsgd/dp_config.h"
#include "paradigms/dpsgd/per_sample_grad.h"
#include "paradigms/engine/train_loop.h"

namespace sp::dpsgd {

struct DpStepInfo {
  int64_t batch = 0;  // realised logical batch size
};

class DpTrainer {
 public:
  // tr: a Trainer over a group-norm model (its theta, optimiser, recipe and predict/evaluate are used).
  DpTrainer(Trainer& tr, const DpsgdSettings& settings, const DpPlan& plan, uint64_t seed, Stream& s);

  const DpPlan& plan() const { return plan_; }
  const DpsgdSettings& settings() const { return d_; }
  // The EMA parameters (undefined when the EMA is off).
  const Tensor& ema() const { return ema_; }

  // One epoch: plan().steps_per_epoch logical steps (epoch counted from 0); progress as Trainer::train_epoch.
  EpochStats train_epoch(const DeviceData& data, int epoch, const std::function<void(const TrainProgress&)>& progress = {},
                         double progress_interval_s = 1.0);
  // One logical step over the given examples (indices into data) as step number `step` (the noise and
  // augmentation key). Loss and accuracy of the augmented samples are added to `metrics` (f64 [2]) when
  // defined.
  void step(const DeviceData& data, const std::vector<int64_t>& ids, int64_t step, const Tensor& metrics = {});

  // Checkpoint state beyond the Trainer's (the EMA), and its restoration from a checkpoint file.
  std::map<std::string, Tensor> state() const;
  void load_state(const std::string& checkpoint_path);
  // Ends training: evaluation, queries and the saved model use the EMA parameters from now on (copied into
  // the trainer's theta), when the EMA is on.
  void finish();
  // The metrics.json record: the plan, the mean realised batch size, which parameters were evaluated.
  nlohmann::json metrics_json() const;

 private:
  Trainer& tr_;
  DpsgdSettings d_;
  DpPlan plan_;
  uint64_t seed_;
  Stream& s_;
  PerSampleGrads psg_;
  HostUploader uploader_;  // the per-batch ids and labels, through pinned buffers without a synchronisation
  Tensor acc_, ema_;
  int64_t batch_total_ = 0, batch_steps_ = 0;  // realised logical batches (this process)
};

}  // namespace sp::dpsgd
