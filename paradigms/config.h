// The experiment configuration (one JSON file) shared by sp_train and the later paradigm tools:
//
//   {
//     "paradigm": "baseline",                 // a registered paradigm (paradigms/paradigm.h): baseline | dpsgd
//                                             // (a "dpsgd" section: paradigms/dpsgd/dp_config.h) | coreset
//                                             // (a "coreset" section: paradigms/coreset/coreset_config.h) |
//                                             // distill (paradigms/distill/distill_config.h) | dfkd
//                                             // (paradigms/dfkd/dfkd_config.h)
//     "seed": 0,                              // audit choice, canaries, membership, every model's seed
//     "num_shadows": 32,                      // even, >= 2
//     "dataset": {"name": "cifar10", "path": "data"},                  // or
//                {"name": "shapes10", "seed": 0, "train": 10000, "test": 2000},
//                {"name": "folder", "path": "..."}
//                cifar10 / folder may add "train_subset": N, "test_subset": N (a seeded random subset, for
//                short CPU runs)
//     "model": {"name": "resnet18", "width": 64, "num_classes": 10},  // num_classes optional: checked
//     "recipe": {
//       "epochs": 200, "batch_size": 256, "label_smoothing": 0, "drop_last": false,
//       "optimizer": {"name": "sgd", "lr": 0.1, "momentum": 0.9, "nesterov": true, "dampening": 0,
//                     "weight_decay": 5e-4, "decay_norm_and_bias": true},
//                    {"name": "adam" | "adamw", "lr": ..., "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, ...},
//       "schedule": {"kind": "multistep", "warmup_epochs": 1, "milestones": [60, 120, 160], "gamma": 0.2},
//                   kinds: constant | step (step_epochs, gamma) | multistep (milestones, gamma) |
//                   warmup_cosine (warmup_epochs, min_lr) | linear (warmup_epochs); warmup_epochs for all
//       "augmentation": {"crop_pad": 4, "pad_mode": "zero" | "reflect", "flip": true}
//     },
//     "audit": {"num_audit": 500, "canary": "mislabel" | "clean",
//               "population": 1000,               // test images every shadow also queries (RMIA's z; at most
//                                                 // the test split; 0: none). paradigms/engine/population.h
//               "query_views": "all" | "flips" | "clean"},
//                                                 // the LiRA query views of every audit and population image
//                                                 // (data/query_views.h): all 18 crops and flips, the clean
//                                                 // image and its flip, or the clean image alone. Default: what
//                                                 // the recipe trains on: crop_pad > 0: all; flip alone: flips;
//                                                 // neither: clean (whatever the paradigm trains on).
//     "device": {"precision": "auto",                    // fp32 | tf32 | bf16 | auto (below); the one key of
//                                                         // "device" in the identity, and only as bf16
//                "eval_batch": 1024,                      // how to run, not what: not part of the identity
//                "deterministic": false,                  // GPU: deterministic cuDNN algorithms, chosen the same
//                                                         // way in every process (kernels/device.h)
//                "cuda_graphs": "off" | "on" | "auto",   // the training step as a CUDA graph after
//                "graph_warmup_steps": 3,                 // this many eager steps (paradigms/engine/step_graph.h);
//                                                         // auto: on for a GPU; on: an error on the CPU
//                "progress_sync_s": 2}                    // progress reads device metrics at most this often
//   }
//
// device.precision: fp32 (float32 throughout), tf32 (TF32 tensor-core math for the GPU's convolutions and
// matrix products; the CPU computes as fp32), bf16 (the emulated bf16 mixed precision: a model rounds what a
// bf16 step stores to bfloat16, nn/models/layer_builder.h), auto (tf32 on a GPU, fp32 on the CPU). auto is not
// bf16 on any device yet: bf16 is no storage dtype on the GPU, where the emulation only adds rounding passes;
// when it becomes one, auto may pick it on GPUs that have bf16, and must then be resolved for the device before
// the identity is taken. The older "tf32": true | false (configurations and experiment directories written
// before precision existed) reads as tf32 | fp32; giving both keys is an error naming both. Experiment
// identity: fp32 and tf32 runs share a directory, as TF32 on and off always have (a CPU and a GPU run of one
// experiment differ in summation order anyway), but bf16 changes what every model learns, so a bf16 run's
// identity holds "device": {"precision": "bf16"} and never matches an fp32 or tf32 run's; an identity without
// bf16 is the one written before precision existed, so older directories stay valid.
//
// Parsing is strict: unknown keys, wrong types and out-of-range values are errors naming the key path, and
// every problem of a file is reported at once before any work starts. The paradigm validates its own section
// (Paradigm::read_config); another paradigm's section is refused. Schedules are given in epochs and
// turned into optimiser steps once the size of a model's training set is known. Tested in
// tests/test_config.cpp.
#pragma once
#include <any>
#include <nlohmann/json.hpp>
#include <string>
#include <typeinfo>
#include <vector>

#include "data/audit.h"
#include "data/sources.h"
#include "nn/model.h"
#include "nn/precision.h"
#include "paradigms/engine/train_loop.h"

namespace sp {

struct ScheduleEpochs {
  ScheduleKind kind = ScheduleKind::constant;
  double warmup_epochs = 0;
  std::vector<int64_t> milestones;  // multistep, in epochs
  int64_t step_epochs = 0;          // step
  double gamma = 0.1;               // step, multistep
  double min_lr = 0;                // warmup_cosine
};

// The paradigm of a configuration without "paradigm" (and of summaries written before the key existed).
inline constexpr const char* kDefaultParadigm = "baseline";

struct RunConfig {
  std::string paradigm = kDefaultParadigm;
  uint64_t seed = 0;
  int num_shadows = 32;
  data::DatasetSpec dataset;
  int64_t dataset_classes = 0;    // known before loading for shapes10 / cifar10 (10); 0 for folders
  int64_t train_subset = 0, test_subset = 0;  // cifar10 / folder: use N random samples (0: all)
  ModelConfig model;              // num_classes from the config or the dataset
  bool model_classes_given = false;
  TrainRecipe recipe;             // schedule.base_lr = optimizer lr; step counts filled by recipe_for()
  ScheduleEpochs schedule;
  int64_t num_audit = 500;
  data::CanaryType canary = data::CanaryType::mislabel;
  int64_t population = 1000;      // population queries: the first min(population, test size) test images
  data::QueryViews query_views = data::QueryViews::all;  // resolved (given, or the recipe's default)
  bool query_views_given = false;  // written in the configuration rather than defaulted
  Precision precision = Precision::automatic;  // device.precision (or device.tf32) as given; see above
  bool deterministic = false;
  int64_t eval_batch = 1024;      // images per inference batch (query views: eval_batch / A samples)
  TrainExecution execution;       // device.cuda_graphs, graph_warmup_steps, progress_sync_s
  std::any paradigm_settings;     // the paradigm's typed settings (e.g. dpsgd::DpsgdSettings), from its section
  bool floor_steps_per_epoch = false;  // epochs of floor(N / B) steps (DP-SGD's Poisson sampling), set by the paradigm
  nlohmann::json resolved;        // the whole configuration with every default filled in

  // resolved without the "device" section: what must match for two runs to share an experiment directory.
  nlohmann::json identity() const;
  // The paradigm's settings of type T (throws naming the paradigm when they are of another type or absent),
  // or null.
  template <class T>
  const T& settings() const {
    const T* p = settings_if<T>();
    SP_CHECK(p, "paradigm '", paradigm, "' has no settings of type ", typeid(T).name());
    return *p;
  }
  template <class T>
  const T* settings_if() const {
    return std::any_cast<T>(&paradigm_settings);
  }
  // The training recipe for a training set of n samples (warm-up, milestones and step sizes in steps).
  TrainRecipe recipe_for(int64_t n) const;
  // The precision this configuration runs at on s's device (auto resolved; nn/precision.h).
  Precision resolved_precision(const Stream& s) const;
};

// Sets the precision (a command line's --precision / --tf32 over device.precision) with what depends on it:
// model.bf16 and, once parsed, the resolved configuration (and with it, for bf16, the identity).
void set_precision(RunConfig& c, Precision p);

// The model names a configuration may give (nn/model.h: make_model).
const std::vector<std::string>& model_names();

// Parses and validates a configuration; throws sp::Error listing every problem, prefixed with `source`.
RunConfig parse_config(const nlohmann::json& j, const std::string& source = "config");
// Reads a file (JSON with comments allowed); syntax errors and duplicate keys are reported with line/column.
RunConfig load_config(const std::string& path);
RunConfig parse_config_text(const std::string& text, const std::string& source = "config");

// --data PATH: the dataset path of `cfg` (and of cfg.resolved) replaced; shapes10 has none (an error).
void override_dataset_path(RunConfig& cfg, const std::string& path);

// The dataset of a configuration: loaded, then reduced to its train_subset / test_subset (uniform without
// replacement, seeded by the experiment seed, original order kept).
data::DatasetSplits load_run_dataset(const RunConfig& cfg);

// Checks the model against a loaded dataset (class count, channels, image size); throws naming both.
void check_model_fits(const RunConfig& cfg, const data::Dataset& train);

// Every leaf where a and b differ, as "key.path: a_value -> b_value" (keys only in one side included).
std::vector<std::string> json_differences(const nlohmann::json& a, const nlohmann::json& b);

// Seed of shadow model k (initialisation, data order, augmentation), derived from the experiment seed.
uint64_t shadow_seed(uint64_t seed, int k);

}  // namespace sp
