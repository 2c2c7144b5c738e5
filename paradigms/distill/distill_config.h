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
// The audited model ("model") is trained on the synthetic set with "recipe"; the DC/DM evaluation recipe is
// SGD 0.01, momentum 0.9, weight decay 5e-4, batch 256, E + 1 epochs with the rate x0.1 after epoch E/2 + 1
// (configs/distill_*.json spell it out). Every problem is reported with its key path. Tested in
// tests/test_distill_config.cpp.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

#include "nn/dsa.h"
#include "nn/model.h"
#include "paradigms/json_fields.h"

namespace sp::distill {

enum class Method { dc, dsa, dm };
enum class Init { real, noise, ood };
enum class TrainAugment { dsa, none };

const std::vector<std::string>& method_names();
const std::vector<std::string>& init_names();
std::string method_name(Method m);
std::string init_name(Init i);

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

  bool matches_gradients() const { return method != Method::dm; }
};

// Reads the section into c (net.num_classes = classes) and its resolved form into out.
void read_distill(cfg::Fields f, int64_t classes, DistillConfig& c, nlohmann::json& out);

}  // namespace sp::distill
