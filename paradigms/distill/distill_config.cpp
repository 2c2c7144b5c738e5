// Parsing the "distill" configuration section (see distill_config.h). Tested in tests/test_distill_config.cpp.
#include "paradigms/distill/distill_config.h"

#include <algorithm>

#include "data/sources.h"
#include "kernels/error.h"
#include "paradigms/config.h"

namespace sp::distill {

namespace {
const std::vector<std::string> kAugments = {"dsa", "none"};

template <class E>
E index_of(const std::vector<std::string>& names, const std::string& s) {
  auto it = std::find(names.begin(), names.end(), s);
  return E(it == names.end() ? 0 : it - names.begin());
}
}  // namespace

const std::vector<std::string>& method_names() {
  static const std::vector<std::string> n = {"dc", "dsa", "dm", "mtt", "datm"};
  return n;
}
const std::vector<std::string>& init_names() {
  static const std::vector<std::string> n = {"real", "noise", "ood", "samples_predicted_correctly"};
  return n;
}
std::string method_name(Method m) { return method_names()[size_t(m)]; }
std::string init_name(Init i) { return init_names()[size_t(i)]; }

void read_distill(cfg::Fields f, int64_t classes, DistillConfig& c, nlohmann::json& out) {
  f.require("method");
  f.require("ipc");
  const std::string method = f.string("method", "dc", method_names());
  c.method = index_of<Method>(method_names(), method);
  c.ipc = f.integer("ipc", 10, 1, 100000);
  const bool dm = c.method == Method::dm, tm = c.matches_trajectories();
  c.momentum_img = f.number("momentum_img", 0.5, 0, 0.999999);
  out = {{"method", method}, {"ipc", c.ipc}, {"momentum_img", c.momentum_img}};
  if (tm) {
    read_trajectory_settings(f, classes > 0 ? classes : 10, c, out);
    f.reject({"batch_real"}, "not used by trajectory matching (it matches expert parameters, not real batches)");
  } else {
    c.iterations = f.integer("iterations", dm ? 20000 : 1000, 0, 100000000);
    c.lr_img = f.number("lr_img", dm ? (c.ipc <= 50 ? 1.0 : 10.0) : 0.1, 0);
    c.batch_real = f.integer("batch_real", 256, 1, 1 << 20);
    out.update({{"iterations", c.iterations}, {"lr_img", c.lr_img}, {"batch_real", c.batch_real}});
    f.reject({"syn_steps", "expert_epochs", "min_start_epoch", "max_start_epoch", "sequential_generation",
              "current_max_start_epoch", "expansion_end_epoch", "lr_teacher", "lr_lr", "momentum_lr", "batch_syn",
              "soft_labels", "lr_y", "momentum_y", "threshold", "meta_gradient", "zca", "zca_eps",
              "label_expert_epoch", "experts"},
             "a trajectory-matching setting (method mtt or datm)");
  }

  if (c.matches_gradients()) {
    c.lr_net = f.number("lr_net", 0.01, 0);
    // Upstream's loop counts exist for IPC 1, 10 and 50 only (main.py exits for any other).
    int64_t outer = 0, inner = 0;
    if (c.ipc == 1) outer = 1, inner = 1;
    if (c.ipc == 10) outer = 10, inner = 50;
    if (c.ipc == 50) outer = 50, inner = 10;
    for (const char* key : {"outer_loop", "inner_loop"})
      if (!outer && !f.has(key))
        f.error(key, "required for ipc " + std::to_string(c.ipc) +
                         " (upstream defines the loops only for ipc 1, 10 and 50: (1, 1), (10, 50), (50, 10))");
    c.outer_loop = f.integer("outer_loop", outer ? outer : 1, 1, 100000);
    c.inner_loop = f.integer("inner_loop", inner ? inner : 1, 0, 100000);
    c.batch_train = f.integer("batch_train", 256, 1, 1 << 20);
    out["lr_net"] = c.lr_net;
    out["outer_loop"] = c.outer_loop;
    out["inner_loop"] = c.inner_loop;
    out["batch_train"] = c.batch_train;
  } else {
    f.reject({"lr_net", "outer_loop", "inner_loop", "batch_train"},
             "not used by method " + method + " (" + (dm ? "its networks are not trained" : "its students take syn_steps steps") + ")");
  }

  const std::string init = f.string("init", c.method == Method::datm ? "samples_predicted_correctly" : "real", init_names());
  c.init = index_of<Init>(init_names(), init);
  if (c.init == Init::samples_predicted_correctly && !tm)
    f.error("init", "samples_predicted_correctly needs expert trajectories (method mtt or datm)");
  out["init"] = init;
  if (c.init == Init::ood) {
    f.require("ood_data");
    c.ood_data = f.string("ood_data", "");
    if (f.has("ood_data")) {
      try {
        data::DatasetSpec spec = data::parse_dataset_spec(c.ood_data);
        c.ood_data = spec.str();
      } catch (const Error& e) {
        f.error("ood_data", std::string(e.what()) +
                                " (give a dataset spec such as folder:DIR, DIR/train/<class>/*.png; CIFAR-10's "
                                "out-of-distribution images: extract cinic10-imagenet-ood.tar.gz and give "
                                "folder:<extracted>/cinic10-imagenet-ood)");
      }
    }
    out["ood_data"] = c.ood_data;
  } else {
    f.reject({"ood_data"}, "only used by init ood");
  }

  {
    cfg::Fields net = f.object("net");
    c.net.name = net.string("name", "convnet3", model_names());
    c.net.width = net.integer("width", c.net.name == "convnet3" ? 128 : 64, 1, 4096);
    c.net.num_classes = classes > 0 ? classes : 10;
    net.finish();
    out["net"] = {{"name", c.net.name}, {"width", c.net.width}};
    try {
      make_model(c.net);
    } catch (const Error& e) {
      f.error("net", e.what());
    }
  }

  if (c.method == Method::dc) {
    c.dsa = f.boolean("dsa", false);
    if (c.dsa) f.error("dsa", "method dc matches without augmentation; use method dsa for Siamese augmentation");
  } else {
    c.dsa = f.boolean("dsa", true);
  }
  c.dsa_strategy = f.string("dsa_strategy", c.dsa_strategy);
  try {
    c.strategy = dsa::parse_strategy(c.dsa_strategy);
  } catch (const Error& e) {
    f.error("dsa_strategy", e.what());
  }
  out["dsa"] = c.dsa;
  out["dsa_strategy"] = c.dsa_strategy;
  const std::string aug = f.string("train_augment", c.method == Method::dc ? "none" : "dsa", kAugments);
  c.train_augment = index_of<TrainAugment>(kAugments, aug);
  out["train_augment"] = aug;
  c.restart_optimizer_at_milestones = f.boolean("restart_optimizer_at_milestones", true);
  out["restart_optimizer_at_milestones"] = c.restart_optimizer_at_milestones;
  c.loss_every = f.integer("loss_every", 10, 1, 100000000);
  out["loss_every"] = c.loss_every;
  f.finish();
}

data::QueryViews distill_query_views(const RunConfig& c, const DistillConfig& dc) {
  if (c.query_views_given || dc.train_augment != TrainAugment::dsa) return c.query_views;
  bool crop = false, flip = false;
  for (dsa::Group g : dc.strategy) {
    crop = crop || g == dsa::Group::crop;
    flip = flip || g == dsa::Group::flip;
  }
  return data::default_query_views(crop ? 1 : 0, flip);
}

}  // namespace sp::distill
