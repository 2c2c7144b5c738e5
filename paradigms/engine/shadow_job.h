// The one seam between a paradigm and the training engine for a shadow model. The engine
// (paradigms/engine/shadow_train.h) asks a ShadowPreparer (a paradigm, paradigms/paradigm.h) to prepare
// shadow k from its private training set, then drives the ShadowJob it gets back through training:
//   prepare_shadow  before the private set is uploaded: select, distil, generate, train a teacher...; may
//                   restrict or replace the training set;
//   train_size      samples per epoch of the audited model's training source (default: the private set's), for
//                   the recipe's step counts;
//   adjust_recipe   the recipe the trainer is built with (trajectory matching: its learned step size);
//   start           once the trainer exists: plan (DP-SGD's noise), set a loss, log what was planned;
//   source          the training source of the audited model (default: the private set as the recipe
//                   augments it);
//   train_epoch     one epoch (default: the trainer's step; DP-SGD's per-example step instead);
//   checkpoint_state / load_checkpoint_state   state beyond the trainer's, kept in the epoch checkpoints;
//   finish_training after the last epoch, before evaluation (DP-SGD: the EMA parameters take over);
//   add_metrics     the job's entries of metrics.json.
// The engine knows no paradigm, only this interface. Tested through every paradigm's end-to-end test
// (tests/test_sp_train*.cpp, tests/test_coreset_shadow.cpp) and tests/test_paradigm_registry.cpp.
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "data/audit.h"
#include "paradigms/engine/progress.h"
#include "paradigms/engine/train_loop.h"
#include "paradigms/engine/train_state.h"

namespace sp {

struct ExperimentRun;

class ShadowJob {
 public:
  using Log = std::function<void(const std::string&)>;
  virtual ~ShadowJob() = default;
  virtual int64_t train_size(const DeviceData& d) const { return d.size(); }
  virtual void adjust_recipe(TrainRecipe&) const {}
  // `name`: "shadow k", for log lines.
  virtual void start(Trainer&, const DeviceData&, const std::string& /*name*/, const Log&) {}
  virtual std::unique_ptr<TrainingSource> source(Trainer& tr, const DeviceData& d, uint64_t seed) {
    return std::make_unique<DatasetSource>(d, tr.recipe().augment, tr.recipe().augment_cfg, seed);
  }
  virtual EpochStats train_epoch(Trainer& tr, TrainingSource& source, int epoch,
                                 const std::function<void(const TrainProgress&)>& progress, double interval_s) {
    return tr.train_epoch(source, epoch, progress, interval_s);
  }
  virtual std::map<std::string, Tensor> checkpoint_state() const { return {}; }
  virtual void load_checkpoint_state(const std::string& /*checkpoint_path*/) {}
  virtual void finish_training(Trainer&) {}
  // m: metrics.json so far; st: the epochs trained; train_s: their seconds.
  virtual void add_metrics(nlohmann::json& /*m*/, const TrainState& /*st*/, double /*train_s*/) const {}
};

class ShadowPreparer {
 public:
  virtual ~ShadowPreparer() = default;
  // ts: model k's private training set (every non-audit sample plus its IN audit samples, with training
  // labels), which the preparer may restrict or replace.
  virtual std::unique_ptr<ShadowJob> prepare_shadow(const ExperimentRun& run, int k, data::TrainingSet& ts,
                                                    Stream& s, ProgressPrinter* progress) const = 0;
};

}  // namespace sp
