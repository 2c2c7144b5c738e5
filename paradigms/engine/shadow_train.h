// Training one shadow model of an experiment, prepared and driven by the experiment's paradigm through the
// ShadowJob seam (paradigms/engine/shadow_job.h), and querying it, with every output written atomically into
// DIR/shadow/<k>/:
//   model.safetensors   the trained model as a PyTorch state_dict (paradigms/engine/model_file.h)
//   logits.npy          f32 [M, A, C] eval-mode logits of the A query views of every audit sample that
//                       audit.query_views selects (all: A = 18; flips: 2; clean: 1; data/query_views.h)
//   scores.npy          f64 [M, A] LiRA statistic phi = z_y - logsumexp_{j != y} z_j (y: training label)
//   logits_all.npy      f32 [N, A, C] for the whole training set (only with query_all)
//   population_logits.npy  f32 [P, A, C] the same views of the population set (paradigms/engine/population.h)
//   metrics.json        accuracies, per-phase seconds, images/s, device; written last: a shadow with it is done
//   checkpoint.safetensors  at epoch ends while training (paradigms/engine/train_state.h); removed at the end
//   .lock               flock held while a process trains the shadow (with its pid, data/file_util.h); a
//                       second process skips it (busy) or, with wait_if_busy, waits and takes it over
// Temporaries of writes a killed trainer left (NAME.tmp.<pid>...) are removed once the lock is taken.
// A shadow whose metrics.json exists is skipped (its missing logits_all.npy, with query_all, and
// population_logits.npy are computed from model.safetensors); one with a checkpoint resumes after the
// checkpoint's epoch and ends with the same files as an uninterrupted run (byte for byte on the CPU; on a GPU
// cuDNN benchmarks its algorithms in each process and some are not deterministic, so there the resumed run
// agrees to float rounding). Tested end to end in tests/test_sp_train.cpp and tests/gpu/test_sp_train_gpu.cpp.
#pragma once
#include <nlohmann/json.hpp>

#include "paradigms/engine/experiment_run.h"
#include "paradigms/engine/progress.h"
#include "paradigms/engine/shadow_job.h"

namespace sp {

struct ShadowOptions {
  bool query_all = false;
  // An epoch checkpoint is written when this many seconds have passed since the last one, and after the
  // last epoch (0: after every epoch). Any epoch boundary resumes exactly; this only bounds the lost work
  // against the cost of writing parameters and optimiser state (~90 MB for ResNet-18) every epoch.
  double checkpoint_interval_s = 60;
  ProgressPrinter* progress = nullptr;  // null: silent
  // Another process holds the shadow's lock: wait until it is released instead of returning busy.
  bool wait_if_busy = false;
};

// DIR/shadow/<k>/.lock: held (flock) by the process training shadow k; `sp_audit --status` reads it.
inline constexpr const char* kShadowLockName = ".lock";

struct ShadowResult {
  bool skipped = false;   // metrics.json was already there
  bool busy = false;      // another process holds the shadow's lock: nothing done
  nlohmann::json metrics;  // the metrics.json content (read back when skipped)
};

// `preparer`: the experiment's paradigm (paradigms/paradigm.h: paradigm_of(run.cfg)).
ShadowResult train_shadow(ExperimentRun& run, int k, Stream& s, const ShadowPreparer& preparer,
                          const ShadowOptions& opt = {});

// The samples ts (indices into the training set, with their training labels) uploaded to the device.
DeviceData upload_training_set(const ExperimentRun& run, const data::TrainingSet& ts, const std::string& name, Stream& s);

// Eval-mode logits of the A = data::num_query_views(views) query views of d's images[ids], in batches of
// about `batch_images` images (batch_images / A samples); `sink` receives each block's logits [b, A, C] (on
// the device) with the position of its first sample. s: the trainer's stream.
void for_query_blocks(Trainer& tr, Stream& s, const DeviceData& d, const std::vector<int64_t>& ids,
                      int64_t batch_images, data::QueryViews views,
                      const std::function<void(int64_t first, const Tensor& logits)>& sink);

}  // namespace sp
