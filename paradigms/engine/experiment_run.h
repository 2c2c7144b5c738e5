// Opening an experiment for training: the configuration checked against what the directory already holds
// (DIR/config.json: the resolved configuration, written once; any difference is refused and listed key by
// key), the dataset loaded and checked against the model, the experiment directory (data/experiment.h:
// audit set, canaries, membership) created or reopened under its lock together with config.json (so that
// concurrent processes agree on one configuration), and the training and test images uploaded to the
// device once for every shadow model trained in this process. Tested end to end in tests/test_sp_train.cpp.
#pragma once
#include <string>

#include "data/experiment.h"
#include "paradigms/config.h"
#include "paradigms/engine/population.h"

namespace sp {

// Throws before any work when `dir` holds another configuration (listing the differences) or is not an
// experiment directory. A missing or empty `dir` is fine. A directory made before audit.query_views existed
// was queried on all 18 views: a `cfg` that leaves the key to its default takes "all" from it (cfg is
// updated, resolved included), so resuming it neither fails nor mixes view counts; one that asks for other
// views is refused like any other difference.
void check_run_dir(const std::string& dir, RunConfig& cfg);

// The configuration stored in an experiment directory (DIR/config.json, `path`) as the code that wrote it
// ran: keys added since are filled in with what that code did (audit.query_views: "all").
RunConfig load_stored_config(const std::string& path);

struct ExperimentRun {
  RunConfig cfg;
  data::DatasetSplits data;            // host copies
  data::Experiment exp;
  std::vector<int64_t> train_labels;   // the dataset's labels
  std::vector<int64_t> trained_labels; // labels as every model trains on them (audit samples: canary labels)
  PopulationSet population;            // test images every shadow also queries (DIR/population/)
  DeviceData train, test;              // on the device; train carries trained_labels
  double load_seconds = 0;             // loading, checking and uploading
  // How often a long stage writes a checkpoint (seconds; 0: at every opportunity). train_shadow sets it from
  // its options before preparing a shadow, so a paradigm's own long stages (a distillation) checkpoint on the
  // same clock as the epochs.
  double checkpoint_interval_s = 60;
};

// The experiment in `dir` for `cfg` created or reopened under its lock (many processes may start on one
// directory at once: one creates it and writes config.json, the others wait and check theirs against it
// again under the lock, as check_run_dir, which may update cfg). `ec`: the experiment's configuration;
// train_labels: the training split's labels.
data::Experiment create_or_open_run_dir(RunConfig& cfg, const std::string& dir, const data::ExperimentConfig& ec,
                                        const std::vector<int64_t>& train_labels);

// The host side only (train/test left empty): what submitting jobs that train elsewhere needs. The run's
// cfg is `cfg` as check_run_dir leaves it.
ExperimentRun prepare_experiment_run(const RunConfig& cfg, const std::string& dir);
ExperimentRun open_experiment_run(const RunConfig& cfg, const std::string& dir, Stream& s);

}  // namespace sp
