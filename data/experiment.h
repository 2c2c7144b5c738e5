// The experiment directory: the fixed, seed-derived part of a membership-inference experiment, written once
// and never silently overwritten.
//   experiment.json          resolved configuration: seed, dataset (spec, size, classes, fingerprint),
//                            audit size and canary type, number of shadow models
//   audit/indices.npy        int64 [M]  audit samples, ascending indices into the training set
//   audit/labels.npy         int64 [M]  their training labels (canary labels for `mislabel`)
//   audit/true_labels.npy    int64 [M]  their dataset labels
//   shadow/<k>/keep.npy      bool  [M]  for k = 0..S-1: audit sample j is in model k's training set
//   .lock                    the lock file below (kept: removing a lock file races with its next user)
// The arrays are what tensorflow-privacy's LiRA scripts and numpy read directly. Every file is written
// atomically and experiment.json last, so a directory with experiment.json is complete. Creating and
// reopening hold an exclusive flock on DIR/.lock: the tasks of a SLURM job array all open one directory at
// once; one creates it, the others wait and then verify it (flock works across NFS v4 clients; Lustre needs
// its `flock` mount option). A directory left half-written by a killed creator holds only files creation
// writes and is filled again. Opening an existing directory checks that its configuration equals the
// requested one and that every array is what the seed produces; any difference is an error naming the file.
// Tested in tests/test_data_experiment.cpp (layout, numpy reading it, reopen, different configuration,
// tampered or missing files, concurrent creation by threads and by processes, an interrupted creation).
#pragma once
#include <string>

#include "data/audit.h"
#include "data/file_util.h"

namespace sp::data {

struct ExperimentConfig {
  uint64_t seed = 0;
  std::string dataset;              // canonical dataset spec (data/sources.h)
  std::string dataset_fingerprint;  // fingerprint() of the training split
  std::vector<std::string> classes;
  int64_t train_size = 0;
  int64_t num_audit = 500;
  int num_models = 32;
  CanaryType canary = CanaryType::mislabel;
};

struct Experiment {
  std::string dir;
  ExperimentConfig config;
  AuditSet audit;
  Membership membership;
  std::string shadow_dir(int k) const;  // dir/shadow/<k>
};

// The configuration for a training split (fills dataset, fingerprint, classes and size from it).
ExperimentConfig make_experiment_config(const std::string& dataset_spec, const Dataset& train, uint64_t seed,
                                        int64_t num_audit = 500, int num_models = 32,
                                        CanaryType canary = CanaryType::mislabel);

// True when `dir` is missing, empty, or holds no experiment.json and only what creation writes (the lock,
// audit arrays, keep.npy files and their temporaries, i.e. an interrupted creation): safe to create in.
bool is_fresh_experiment_dir(const std::string& dir);
// The check before taking the lock, when another process may be creating the experiment (so the directory
// changes under is_fresh_experiment_dir's feet): false only for what is clearly not ours, a file or a
// directory that is not fresh and holds neither experiment.json nor the lock file. Checked exactly under
// the lock afterwards.
bool may_hold_experiment(const std::string& dir);

// The exclusive lock on DIR/.lock for creating or reopening the experiment in DIR (created when missing).
// Throws without touching `dir` when it is a foreign directory (not fresh and without experiment.json).
class ExperimentLock {
 public:
  explicit ExperimentLock(const std::string& dir);
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  FileLock lock_;
};

// Creates the directory for `cfg` (train_labels: the training split's labels), or opens it when it
// already exists with the same configuration (the dataset spec may differ, e.g. data moved to another path;
// its fingerprint may not). Throws, naming the file, when it holds anything else. Takes the ExperimentLock.
Experiment create_or_open_experiment(const std::string& dir, const ExperimentConfig& cfg,
                                     const std::vector<int64_t>& train_labels);
// The same for a caller that already holds the lock on `dir` (and does more work under it).
Experiment create_or_open_experiment(const ExperimentLock& held, const ExperimentConfig& cfg,
                                     const std::vector<int64_t>& train_labels);
// Reads an existing directory back, validating every file's dtype, shape and consistency.
Experiment open_experiment(const std::string& dir);

}  // namespace sp::data
