// The "distill" configuration section: how each shadow distils its synthetic set from its private set D_k
// (shared/reference/round2-methods.md §1-3 for the methods and their upstream CIFAR-10 defaults,
// shared/reference/paper-protocol.md §2.3 for the initialisations):
//
//   "distill": {
//     "method": "dc" | "dsa" | "dm",     // gradient matching, + Siamese augmentation, distribution matching
//     "ipc": 10,                         // synthetic images per class
//     "iterations": 1000,                // outer iterations (DC/DSA 1000, DM 20000 upstream)
//     "lr_img": 0.1,                     // image optimiser: SGD with momentum 0.5 (DM: 1 for IPC <= 50, else 10)
//     "momentum_img": 0.5,
//     "batch_real": 256,                 // real images per class per matching step
//     "lr_net": 0.01, "outer_loop": 10, "inner_loop": 50, "batch_train": 256,   // DC/DSA only; loops by IPC
//                                        // upstream: 1 -> (1, 1), 10 -> (10, 50), 50 -> (50, 10); other IPCs
//                                        // must give them
//     "init": "real" | "noise" | "ood",  // random images of each class of D_k / N(0, 1) in the normalised
//                                        // space / images of the same classes from "ood_data"
//     "ood_data": "folder:DIR",          // a dataset spec (data/sources.h); only with init "ood"
//     "net": {"name": "convnet3", "width": 128},   // the distillation network (any model of the zoo)
//     "dsa": true, "dsa_strategy": "color_crop_cutout_flip_scale_rotate",       // matching augmentation
//                                        // (DC: off and refused; DSA and DM: on by default)
//     "train_augment": "dsa" | "none",   // the audited model's training augmentation: per-sample DSA with
//                                        // dsa_strategy (default for DSA and DM) or none (DC's default); the
//                                        // recipe's crop and flip apply to uint8 datasets, not synthetic sets
//     "restart_optimizer_at_milestones": true,     // zero the momentum at each multistep milestone, as
//                                        // upstream re-creates its optimiser when it lowers the rate
//     "loss_every": 10                   // record the distillation loss every N iterations
//   }
//
// Trajectory matching (method "mtt" or "datm", round2-methods.md §4-5) adds, flat in the same section
// (defaults: upstream's CIFAR-10 settings by IPC, MTT §4.3 for IPC 1/10/50 and its code defaults otherwise,
// DATM §5.5 for IPC 1/10/50/500/1000; DATM at other IPCs must give the schedule keys):
//     "syn_steps": 20, "expert_epochs": 3,        // unrolled student steps; expert epochs they must match
//     "min_start_epoch": 0, "max_start_epoch": 25, // start epoch ~ U[min, upper) (exclusive upper)
//     "sequential_generation": false,             // DATM: upper grows from current_max_start_epoch to
//     "current_max_start_epoch": 10, "expansion_end_epoch": 1000,   // max_start_epoch over these iterations
//     "lr_teacher": 0.01,                         // the learnable step size's start value
//     "lr_lr": 1e-5, "momentum_lr": 0.5,          // its optimiser (SGD)
//     "batch_syn": 0,                             // synthetic images per unrolled step (0: all)
//     "soft_labels": false,                       // DATM: learnable logits from the experts
//     "lr_y": 2, "momentum_y": 0.9,               // their optimiser (SGD)
//     "threshold": 1.0,                           // DATM: skip the update when the loss exceeds it
//     "meta_gradient": "adjoint" | "unrolled",    // constant-memory recomputation or one unrolled tape
//     "zca": true, "zca_eps": 0.1,                // ZCA whitening fitted on D_k (no mean/std normalisation)
//     "init": also "samples_predicted_correctly" (DATM's default: images an expert classifies as labelled),
//     "label_expert_epoch": -1,                   // the classifying snapshot (-1: the last epoch)
//     "experts": {"count": 100, "epochs": 50,     // expert trajectories trained on D_k (DATM: 100 epochs)
//                 "lr": 0.01, "momentum": 0, "weight_decay": 0, "batch": 256,
//                 "optimizer": "sgd" | "gsam", "rho": 0.01, "alpha": 0.3, "adaptive": true,  // DATM: gsam
//                 "augment": true,                // per-sample DSA (dsa_strategy)
//                 "storage": "f32" | "f16"}       // snapshot precision on disk
// The audited model then trains on the synthetic set with the learned step size as the recipe's base rate
// (and the learned soft labels, DATM).
//
// The audited model ("model") is trained on the synthetic set with "recipe"; the DC/DM evaluation recipe is
// SGD 0.01, momentum 0.9, weight decay 5e-4, batch 256, E + 1 epochs with the rate x0.1 after epoch E/2 + 1
// (configs/distill_*.json spell it out). Every problem is reported with its key path. Tested in
// tests/test_distill_config.cpp.
#pragma once
#include <nlohmann/json.hpp>
#include <limits>
#include <string>

#include "data/query_views.h"
#include "nn/dsa.h"
#include "nn/model.h"
#include "nn/trajectory_matching.h"
#include "paradigms/json_fields.h"

namespace sp {
struct RunConfig;
}

namespace sp::distill {

enum class Method { dc, dsa, dm, mtt, datm };
enum class Init { real, noise, ood, samples_predicted_correctly };
enum class TrainAugment { dsa, none };

const std::vector<std::string>& method_names();
const std::vector<std::string>& init_names();
std::string method_name(Method m);
std::string init_name(Init i);

// Expert trajectories (round2-methods.md §4.1, §5.1).
struct ExpertConfig {
  int64_t count = 100, epochs = 50;
  double lr = 0.01, momentum = 0, weight_decay = 0;
  int64_t batch = 256;
  bool gsam = false;
  double rho = 0.01, alpha = 0.3;
  bool adaptive = true;
  bool augment = true;
  DType storage = DType::f32;
};

struct DistillConfig {
  Method method = Method::dc;
  int64_t ipc = 10;
  int64_t iterations = 1000;
  double lr_img = 0.1, momentum_img = 0.5;
  int64_t batch_real = 256;
  // DC / DSA
  double lr_net = 0.01;
  int64_t outer_loop = 10, inner_loop = 50, batch_train = 256;
  Init init = Init::real;
  std::string ood_data;  // dataset spec, init ood only
  ModelConfig net;       // name convnet3, width 128; classes and image geometry from the experiment
  bool dsa = false;
  std::string dsa_strategy = "color_crop_cutout_flip_scale_rotate";
  std::vector<dsa::Group> strategy;  // parsed dsa_strategy
  TrainAugment train_augment = TrainAugment::none;
  bool restart_optimizer_at_milestones = true;
  int64_t loss_every = 10;

  // Trajectory matching (mtt, datm)
  int64_t syn_steps = 20, expert_epochs = 3, min_start_epoch = 0, max_start_epoch = 25;
  bool sequential_generation = false;
  int64_t current_max_start_epoch = 0, expansion_end_epoch = 1;
  double lr_teacher = 0.01, lr_lr = 1e-5, momentum_lr = 0.5;
  int64_t batch_syn = 0;
  bool soft_labels = false;
  double lr_y = 0, momentum_y = 0.9;
  double threshold = std::numeric_limits<double>::infinity();
  MetaGradMode meta_gradient = MetaGradMode::adjoint;
  bool zca = true;
  double zca_eps = 0.1;
  int64_t label_expert_epoch = -1;
  ExpertConfig experts;

  bool matches_gradients() const { return method == Method::dc || method == Method::dsa; }
  bool matches_trajectories() const { return method == Method::mtt || method == Method::datm; }
  // The exclusive upper bound of the start epoch at iteration `it` (DATM's sequential generation).
  int64_t start_epoch_upper(int64_t it) const;
};

// The trajectory-matching keys (trajectory_config.cpp), read after method and ipc.
void read_trajectory_settings(cfg::Fields& f, int64_t classes, DistillConfig& c, nlohmann::json& out);

// Reads the section into c (net.num_classes = classes) and its resolved form into out.
void read_distill(cfg::Fields f, int64_t classes, DistillConfig& c, nlohmann::json& out);

// audit.query_views of a distillation experiment when the configuration does not set it: the audited model
// trains on the synthetic set with per-sample DSA (train_augment "dsa"), not with the recipe's crop and flip,
// so the views follow DSA's transforms (crop: all 18; flip alone: the clean image and its flip; neither: the
// clean image); with train_augment "none", the recipe's rule. A value the configuration gives is kept.
data::QueryViews distill_query_views(const RunConfig& c, const DistillConfig& dc);

}  // namespace sp::distill
