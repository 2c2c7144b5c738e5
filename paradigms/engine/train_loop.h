// The supervised training loop every paradigm reuses: a model trained on a training source
// (paradigms/engine/training_source.h: the dataset resident on the device as uint8 images augmented on the
// device, an in-memory image set, or batches made on the fly) with a pluggable loss (paradigms/engine/loss.h:
// hard or soft cross-entropy, distillation; hard cross-entropy with the recipe's label smoothing unless set),
// one tape per step, metrics accumulated on the device and read
// only at progress points (at most every TrainExecution::progress_sync_s seconds) and epoch ends, and the
// learning rate from a schedule written to the optimiser's device scalars. The same code runs on the CPU and
// the GPU; on the GPU the step may be captured into a CUDA graph after a warm-up and replayed
// (paradigms/engine/step_graph.h): the batch is made eagerly and copied into the graph's input tensors.
// Tested in tests/test_train_loop.cpp (loss falls, runs are reproducible, resume from a mid-run state equals
// an uninterrupted run, execution settings) and tests/gpu/test_step_graph_gpu.cpp (graphed steps equal eager
// ones byte for byte).
#pragma once
#include <functional>
#include <memory>

#include "data/augment.h"
#include "paradigms/engine/device_data.h"
#include "paradigms/engine/loss.h"
#include "paradigms/engine/training_source.h"
#include "nn/model.h"
#include "nn/optim.h"
#include "nn/schedule.h"
#include "paradigms/engine/step_graph.h"

namespace sp {

// How a Trainer runs, not what it computes (the configuration's "device" section): a CPU run's numbers do
// not depend on it.
struct TrainExecution {
  // Progress reports read the device metrics (draining the stream) at most this often, however often the
  // caller asks (a terminal bar redraws every 0.25 s).
  double progress_sync_s = 2.0;
  // CUDA graphs of train_epoch's step: off, on (an error on the CPU) or auto (on for CUDA streams).
  CudaGraphMode cuda_graphs = CudaGraphMode::off;
  int graph_warmup_steps = 3;  // eager steps of a batch shape before it is captured
};

struct TrainRecipe {
  int epochs = 1;
  int64_t batch_size = 128;
  OptimConfig optim;          // SGD/Adam/AdamW settings
  ScheduleConfig schedule;    // base_lr etc.; total_steps = 0 means "the whole run"
  bool augment = true;        // random crop + flip (augment_cfg); otherwise normalisation only
  data::AugmentConfig augment_cfg;
  double label_smoothing = 0;
  bool drop_last = false;     // drop a final partial batch
  // Weight decay on every parameter (PyTorch's default, the paper's setting) or only on conv/linear weights
  // (the model's decay mask).
  bool decay_all = true;
};

struct TrainProgress {
  int epoch = 0, epochs = 0;   // epoch counted from 0
  int64_t step = 0, steps = 0; // step within the epoch (done so far), steps per epoch
  double loss = 0, accuracy = 0;  // running means over this epoch so far
  double images_per_s = 0;
  double eta_s = 0;            // remaining time of the whole run at the current speed
};

struct EpochStats {
  int epoch = 0;
  double loss = 0, accuracy = 0;  // mean training loss and accuracy (augmented batches)
  double seconds = 0, images_per_s = 0;
};

class Trainer {
 public:
  // theta [P] and buffers [B] are created on s's device and initialised by the model from `seed`.
  Trainer(const Model& model, const TrainRecipe& recipe, Stream& s, uint64_t seed);

  const Model& model() const { return model_; }
  const TrainRecipe& recipe() const { return recipe_; }
  const Tensor& theta() const { return theta_; }
  const Tensor& buffers() const { return buffers_; }
  Optimizer& optimizer() { return *opt_; }
  int64_t steps_per_epoch(int64_t n) const;

  // One epoch (epoch counted from 0) over the source's batches of recipe().batch_size, with the loss
  // (set_loss). Sources order and augment by (seed, epoch) only, so a run resumed at an epoch boundary
  // continues exactly. `progress` is called about every `progress_interval_s` seconds and after the last
  // step; each call reads the device once. Throws sp::Error when the loss becomes NaN or infinite.
  EpochStats train_epoch(TrainingSource& source, int epoch,
                         const std::function<void(const TrainProgress&)>& progress = {},
                         double progress_interval_s = 1.0);
  // The same over the dataset `d` (a DatasetSource with the recipe's augmentation and the trainer's seed).
  EpochStats train_epoch(const DeviceData& d, int epoch,
                         const std::function<void(const TrainProgress&)>& progress = {},
                         double progress_interval_s = 1.0);
  // Replaces the loss of train_epoch (default: HardCrossEntropy with the recipe's label smoothing); drops a
  // captured step graph.
  void set_loss(std::unique_ptr<Loss> loss);
  // Progress synchronisation and CUDA graphs (default: TrainExecution{}). Throws when graphs are on for a
  // CPU stream.
  void set_execution(const TrainExecution& e);
  const TrainExecution& execution() const { return exec_; }
  // The step graph's state machine, or null when graphs are off.
  const StepGraph* step_graph() const { return graph_.get(); }
  // Drops a captured step graph (the trainer's state was replaced, as when resuming from a checkpoint).
  void invalidate_step_graph(std::string why);
  // The epoch machinery train_epoch is built on, for paradigms with their own step (DP-SGD): runs
  // step(j, metrics) for j in [0, steps), where each call trains one step, adds its loss and accuracy to
  // `metrics` (f64 [2], accumulate_metrics) and returns how many samples it trained on; reports progress
  // and returns the epoch's statistics as train_epoch does.
  EpochStats run_epoch(int epoch, int64_t steps, const std::function<int64_t(int64_t, const Tensor&)>& step,
                       const std::function<void(const TrainProgress&)>& progress = {},
                       double progress_interval_s = 1.0);
  // Logits [N, C] (eval mode) of images[ids]; ids i64 on the device. With `query_views`, [N, V, C] of the
  // V = data::num_query_views(views) LiRA query views `views` selects (all: the 18 of data/augment.h).
  Tensor predict(const DeviceData& d, const Tensor& ids, bool query_views = false,
                 data::QueryViews views = data::QueryViews::all);
  // A map from the recipe-normalised query images to the model's input space, applied by predict() and
  // evaluate() only (training batches come from the source in that space already): the ZCA whitening of
  // trajectory matching, whose synthetic set lives in the whitened space. Unset: the identity.
  using InputMap = std::function<Tensor(Stream&, const Tensor&)>;
  void set_input_map(InputMap map) { input_map_ = std::move(map); }
  // Eval-mode accuracy over the whole set, in batches of `batch`.
  double evaluate(const DeviceData& d, int64_t batch = 500);

  // Called by train_epoch after every step with the batch's position in the epoch order
  // (epoch_permutation: sample perm[first + i] is row i), its sample ids (i64, on the device) and its
  // training-mode logits (on the device, valid only during the call), for per-sample training statistics
  // such as forgetting events (paradigms/coreset/). Unset (the default), a step does nothing extra.
  using StepHook = std::function<void(int64_t first, const Tensor& ids, const Tensor& logits)>;
  void set_step_hook(StepHook hook) { step_hook_ = std::move(hook); }

 private:
  Var forward(Tape& t, const Tensor& x, bool training);
  // Forward, backward, metrics into `acc` and the optimiser update from its device scalars (prepared by the
  // caller): the work a step graph captures. Returns the training-mode logits.
  Tensor step_work(const Batch& b, const Tensor& acc);
  // One train_epoch step with learning rate lr; returns the logits for the step hook.
  Tensor train_step(const Batch& b, const Tensor& acc, double lr);
  const Model& model_;
  TrainRecipe recipe_;
  Stream& s_;
  uint64_t seed_;
  Tensor theta_, buffers_;
  std::unique_ptr<Optimizer> opt_;
  Tape tape_;
  std::unique_ptr<Loss> loss_;
  StepHook step_hook_;
  InputMap input_map_;
  TrainExecution exec_;
  Tensor metrics_;  // f64 [2] loss and accuracy sums of the epoch; one tensor for the run (graphs write it)
  std::unique_ptr<StepGraphBackend> graph_backend_;  // declared before graph_, which uses it until destroyed
  std::unique_ptr<StepGraph> graph_;
  Batch graph_batch_;    // the graph's input tensors, refilled from each batch before a replay
  Tensor graph_logits_;  // the graph's logits
};

}  // namespace sp
