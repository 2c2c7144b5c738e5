// Experiment configuration parsing and validation (see config.h). Tested in tests/test_config.cpp.
#include "paradigms/config.h"

#include <cmath>

#include "data/sources.h"
#include "kernels/counter_rng.h"
#include "kernels/error.h"
#include "paradigms/json_fields.h"
#include "paradigms/paradigm.h"

namespace sp {

namespace {

using json = nlohmann::json;
constexpr uint64_t kPurposeShadow = 0x534841444f57ULL;  // "SHADOW"
// Subsets reuse the audit chooser (M of N without replacement, ascending) under keys of their own.
constexpr uint64_t kPurposeTrainSubset = 0x5355425452ULL;  // "SUBTR"
constexpr uint64_t kPurposeTestSubset = 0x5355425445ULL;   // "SUBTE"


int64_t default_width(const std::string& model) {
  if (model == "convnet3") return 128;
  return 64;  // resnet18 / resnet18_gn: base width 64; wrn16_4: 16 * k with k = 4
}

void read_dataset(cfg::Fields f, RunConfig& c, json& out) {
  f.require("name");
  std::string name = f.string("name", "", {"shapes10", "cifar10", "folder"});
  c.dataset.kind = name;
  out["name"] = name;
  if (name == "shapes10") {
    c.dataset.seed = uint64_t(f.integer("seed", 0, 0));
    c.dataset.n_train = f.integer("train", 10000, 1, data::kMaxDatasetImages);
    c.dataset.n_test = f.integer("test", 2000, 1, data::kMaxDatasetImages);
    f.reject({"path"}, "not used by shapes10 (generated, no files)");
    c.dataset_classes = 10;
    out["seed"] = c.dataset.seed;
    out["train"] = c.dataset.n_train;
    out["test"] = c.dataset.n_test;
  } else if (!name.empty()) {
    f.require("path");
    c.dataset.path = f.string("path", "");
    if (f.has("path") && c.dataset.path.empty()) f.error("path", "must not be empty");
    f.reject({"seed", "train", "test"}, "only used by shapes10");
    c.dataset_classes = name == "cifar10" ? 10 : 0;
    c.train_subset = f.integer("train_subset", 0, 0);
    c.test_subset = f.integer("test_subset", 0, 0);
    out["path"] = c.dataset.path;
    if (c.train_subset) out["train_subset"] = c.train_subset;
    if (c.test_subset) out["test_subset"] = c.test_subset;
  }
  f.finish();
}

void read_model(cfg::Fields f, RunConfig& c, cfg::Errors& errors, json& out) {
  f.require("name");
  c.model.name = f.string("name", "", model_names());
  c.model.width = f.integer("width", default_width(c.model.name), 1, 4096);
  const bool layout_given = f.has("layout");
  c.model.layout = parse_activation_layout(f.string("layout", "auto", {"auto", "nchw", "nhwc"}));
  c.model_classes_given = f.has("num_classes");
  c.model.num_classes = f.integer("num_classes", c.dataset_classes > 0 ? c.dataset_classes : 10, 2, 100000);
  if (c.model_classes_given && c.dataset_classes > 0 && c.model.num_classes != c.dataset_classes)
    f.error("num_classes", std::to_string(c.model.num_classes) + " classes, but dataset " + c.dataset.kind + " has " +
                               std::to_string(c.dataset_classes));
  f.finish();
  out["name"] = c.model.name;
  out["width"] = c.model.width;
  if (layout_given) out["layout"] = activation_layout_name(c.model.layout);  // absent: auto, as before the key
  if (c.model_classes_given || c.dataset_classes > 0) out["num_classes"] = c.model.num_classes;
  if (!c.model.name.empty()) {
    try {
      make_model(c.model);  // validates the width for this architecture
    } catch (const Error& e) {
      errors.add(f.path("width"), e.what());
    }
  }
}

void read_optimizer(cfg::Fields f, TrainRecipe& r, json& out) {
  f.require("name");
  f.require("lr");
  std::string name = f.string("name", "sgd", {"sgd", "adam", "adamw"});
  OptimConfig& o = r.optim;
  o.kind = optim_kind_from_name(name);
  r.schedule.base_lr = f.number("lr", 0.1, 0);
  o.weight_decay = f.number("weight_decay", 0, 0);
  r.decay_all = f.boolean("decay_norm_and_bias", true);
  out = {{"name", name}, {"lr", r.schedule.base_lr}, {"weight_decay", o.weight_decay},
         {"decay_norm_and_bias", r.decay_all}};
  if (o.kind == OptimKind::sgd) {
    o.momentum = f.number("momentum", 0, 0, 1);
    o.dampening = f.number("dampening", 0, 0, 1);
    o.nesterov = f.boolean("nesterov", false);
    if (o.nesterov && (o.momentum <= 0 || o.dampening != 0))
      f.error("nesterov", "Nesterov momentum needs momentum > 0 and dampening 0");
    f.reject({"beta1", "beta2", "eps"}, "not used by sgd");
    out["momentum"] = o.momentum;
    out["dampening"] = o.dampening;
    out["nesterov"] = o.nesterov;
  } else {
    o.beta1 = f.number("beta1", 0.9, 0, 0.999999);
    o.beta2 = f.number("beta2", 0.999, 0, 0.999999999);
    o.eps = f.number("eps", 1e-8, 1e-300);
    f.reject({"momentum", "dampening", "nesterov"}, "not used by " + name);
    out["beta1"] = o.beta1;
    out["beta2"] = o.beta2;
    out["eps"] = o.eps;
  }
  f.finish();
}

void read_schedule(cfg::Fields f, RunConfig& c, json& out) {
  ScheduleEpochs& s = c.schedule;
  std::string kind = f.string("kind", "constant", {"constant", "step", "multistep", "warmup_cosine", "linear"});
  s.kind = schedule_kind_from_name(kind);
  s.warmup_epochs = f.number("warmup_epochs", 0, 0);
  out = {{"kind", kind}, {"warmup_epochs", s.warmup_epochs}};
  std::string not_used = "not used by schedule " + kind;
  if (s.kind == ScheduleKind::step || s.kind == ScheduleKind::multistep) {
    s.gamma = f.number("gamma", 0.1, 1e-300);
    out["gamma"] = s.gamma;
  } else {
    f.reject({"gamma"}, not_used);
  }
  if (s.kind == ScheduleKind::step) {
    f.require("step_epochs");
    s.step_epochs = f.integer("step_epochs", 1, 1);
    out["step_epochs"] = s.step_epochs;
  } else {
    f.reject({"step_epochs"}, not_used);
  }
  if (s.kind == ScheduleKind::multistep) {
    f.require("milestones");
    s.milestones = f.integers("milestones", {}, 0);
    if (!std::is_sorted(s.milestones.begin(), s.milestones.end()))
      f.error("milestones", "must be non-decreasing");
    out["milestones"] = s.milestones;
  } else {
    f.reject({"milestones"}, not_used);
  }
  if (s.kind == ScheduleKind::warmup_cosine) {
    s.min_lr = f.number("min_lr", 0, 0, c.recipe.schedule.base_lr);
    out["min_lr"] = s.min_lr;
  } else {
    f.reject({"min_lr"}, not_used);
  }
  bool decays = s.kind == ScheduleKind::warmup_cosine || s.kind == ScheduleKind::linear;
  if (decays && s.warmup_epochs >= double(c.recipe.epochs) && c.recipe.epochs > 0)
    f.error("warmup_epochs", "must be shorter than the run (recipe.epochs = " + std::to_string(c.recipe.epochs) + ")");
  f.finish();
}

void read_augmentation(cfg::Fields f, TrainRecipe& r, json& out) {
  r.augment_cfg.pad = int32_t(f.integer("crop_pad", 4, 0, 16));
  std::string mode = f.string("pad_mode", "zero", {"zero", "reflect"});
  r.augment_cfg.pad_mode = mode == "reflect" ? PadMode::reflect : PadMode::zero;
  r.augment_cfg.flip = f.boolean("flip", true);
  r.augment = r.augment_cfg.pad > 0 || r.augment_cfg.flip;
  f.finish();
  out = {{"crop_pad", r.augment_cfg.pad}, {"pad_mode", mode}, {"flip", r.augment_cfg.flip}};
}

void read_recipe(cfg::Fields f, RunConfig& c, json& out) {
  TrainRecipe& r = c.recipe;
  f.require("epochs");
  f.require("batch_size");
  f.require("optimizer");
  r.epochs = int(f.integer("epochs", 1, 1, 100000));
  r.batch_size = f.integer("batch_size", 128, 1, 1 << 20);
  r.label_smoothing = f.number("label_smoothing", 0, 0, 0.999);
  r.drop_last = f.boolean("drop_last", false);
  out = {{"epochs", r.epochs}, {"batch_size", r.batch_size}, {"label_smoothing", r.label_smoothing},
         {"drop_last", r.drop_last}};
  if (f.has("optimizer")) read_optimizer(f.object("optimizer"), r, out["optimizer"]);
  read_schedule(f.object("schedule"), c, out["schedule"]);
  read_augmentation(f.object("augmentation"), r, out["augmentation"]);
  f.finish();
}

// device.precision, or the older device.tf32 (true: tf32, false: fp32), which configurations written before
// precision existed give (as do the config.json files of their experiment directories).
void read_precision(cfg::Fields& dev, RunConfig& c) {
  const bool tf32_given = dev.has("tf32");
  const bool tf32 = dev.boolean("tf32", true);
  const std::string name = dev.string("precision", "auto", precision_names());
  if (tf32_given && dev.has("precision"))
    dev.error("precision", "device.precision and device.tf32 are both given; device.tf32 is the older spelling "
                           "of device.precision (true: tf32, false: fp32): keep one");
  set_precision(c, tf32_given ? (tf32 ? Precision::tf32 : Precision::fp32) : parse_precision(name));
}

}  // namespace

void set_precision(RunConfig& c, Precision p) {
  c.precision = p;
  c.model.bf16 = p == Precision::bf16;  // automatic is never bf16 (nn/precision.h)
  if (c.resolved.is_object()) c.resolved["device"]["precision"] = precision_name(p);
}

Precision RunConfig::resolved_precision(const Stream& s) const { return resolve_precision(precision, s); }

const std::vector<std::string>& model_names() {
  static const std::vector<std::string> names = {"resnet18", "resnet18_gn", "wrn16_4", "convnet3"};
  return names;
}

json RunConfig::identity() const {
  json j = resolved;
  j.erase("device");
  // bf16 changes what the models learn, fp32 and tf32 only how float32 products are summed (paradigms/config.h).
  if (precision == Precision::bf16) j["device"] = {{"precision", precision_name(precision)}};
  if (j.contains("dataset")) j["dataset"].erase("path");  // the data's fingerprint identifies it instead
  return j;
}

TrainRecipe RunConfig::recipe_for(int64_t n) const {
  TrainRecipe r = recipe;
  int64_t b = r.batch_size, spe = r.drop_last || floor_steps_per_epoch ? n / b : (n + b - 1) / b;
  ScheduleConfig& sc = r.schedule;
  sc.kind = schedule.kind;
  sc.warmup_steps = std::llround(schedule.warmup_epochs * double(spe));
  sc.gamma = schedule.gamma;
  sc.step_size = schedule.step_epochs * spe;
  sc.milestones.clear();
  for (int64_t m : schedule.milestones) sc.milestones.push_back(m * spe);
  sc.min_lr = schedule.min_lr;
  sc.total_steps = 0;  // the whole run (Trainer fills it in)
  return r;
}

RunConfig parse_config(const json& j, const std::string& source) {
  cfg::Errors errors;
  RunConfig c;
  json out;
  cfg::Fields root(j, "", errors);
  root.require("dataset");
  root.require("model");
  root.require("recipe");
  c.paradigm = root.string("paradigm", kDefaultParadigm, paradigm_names());
  c.seed = uint64_t(root.integer("seed", 0, 0));
  c.num_shadows = int(root.integer("num_shadows", 32, 2, 100000));
  if (c.num_shadows % 2) root.error("num_shadows", std::to_string(c.num_shadows) + " must be even (each audit sample is IN for exactly half)");
  out["paradigm"] = c.paradigm;
  out["seed"] = c.seed;
  out["num_shadows"] = c.num_shadows;

  read_dataset(root.object("dataset"), c, out["dataset"]);
  read_model(root.object("model"), c, errors, out["model"]);
  read_recipe(root.object("recipe"), c, out["recipe"]);

  cfg::Fields audit = root.object("audit");
  c.num_audit = audit.integer("num_audit", 500, 1);
  int64_t known_train = c.dataset.kind == "shapes10" ? c.dataset.n_train : c.train_subset;
  if (known_train > 0 && c.num_audit >= known_train)
    audit.error("num_audit", std::to_string(c.num_audit) + " must be below the training set size (" +
                                 std::to_string(known_train) + ")");
  c.canary = data::parse_canary(audit.string("canary", "mislabel", {"mislabel", "clean"}));
  c.population = audit.integer("population", 1000, 0, int64_t(1) << 31);
  // The recipe's augmentation, whatever the paradigm then trains on (real images, a synthetic set, a memory
  // bank): a stated rule rather than a guess about each paradigm's data. A paradigm whose audited model trains
  // with an augmentation of its own refines it in its read_config (distillation's per-sample DSA).
  const data::QueryViews fallback = data::default_query_views(c.recipe.augment_cfg.pad, c.recipe.augment_cfg.flip);
  c.query_views_given = audit.has("query_views");
  c.query_views = *data::query_views_from_name(
      audit.string("query_views", data::query_views_name(fallback), data::query_views_names()));
  audit.finish();
  // Resolved, never left out: config.json then says which views the logits hold.
  out["audit"] = {{"num_audit", c.num_audit},
                  {"canary", data::canary_name(c.canary)},
                  {"population", c.population},
                  {"query_views", data::query_views_name(c.query_views)}};
  // The paradigm's own sections; those of the others are refused.
  const Paradigm* paradigm = find_paradigm_or_null(c.paradigm);  // null: already reported as unknown
  for (const Paradigm* other : registered_paradigms())
    if (other != paradigm) root.reject(other->config_sections(), "only used by paradigm " + other->name());
  if (paradigm) paradigm->read_config(root, c, errors, out);

  cfg::Fields dev = root.object("device");
  read_precision(dev, c);
  c.deterministic = dev.boolean("deterministic", false);
  c.eval_batch = dev.integer("eval_batch", 1024, 1, 1 << 20);
  std::string graphs = dev.string("cuda_graphs", "off", {"auto", "on", "off"});
  c.execution.cuda_graphs = cuda_graph_mode_from_name(graphs);
  c.execution.graph_warmup_steps = int(dev.integer("graph_warmup_steps", 3, 0, 1000));
  c.execution.progress_sync_s = dev.number("progress_sync_s", 2.0, 0, 3600);
  dev.finish();
  out["device"] = {{"precision", precision_name(c.precision)},
                   {"deterministic", c.deterministic},
                   {"eval_batch", c.eval_batch},
                   {"cuda_graphs", graphs},
                   {"graph_warmup_steps", c.execution.graph_warmup_steps},
                   {"progress_sync_s", c.execution.progress_sync_s}};
  root.finish();

  errors.throw_if_any(source);
  c.recipe.augment_cfg.norm = data::Normalization::cifar10();
  c.resolved = out;
  return c;
}

RunConfig parse_config_text(const std::string& text, const std::string& source) {
  cfg::Errors errors;
  json j = cfg::parse_json(text, errors);
  errors.throw_if_any(source);
  return parse_config(j, source);
}

void override_dataset_path(RunConfig& cfg, const std::string& path) {
  SP_CHECK(cfg.dataset.kind != "shapes10", "--data: dataset shapes10 is generated and has no path");
  cfg.dataset.path = path;
  cfg.resolved["dataset"]["path"] = path;
}

RunConfig load_config(const std::string& path) {
  cfg::Errors errors;
  json j = cfg::parse_json_file(path, errors);
  errors.throw_if_any(path);
  return parse_config(j, path);
}

data::DatasetSplits load_run_dataset(const RunConfig& c) {
  data::DatasetSplits d = data::load_dataset(c.dataset);
  auto reduce = [&](data::Dataset& set, int64_t n, uint64_t purpose, const char* key) {
    if (n == 0) return;
    SP_CHECK(n <= set.size(), "dataset.", key, " = ", n, " but '", c.dataset.str(), "' has only ", set.size(),
             " samples in that split");
    std::string name = set.name + "[" + std::to_string(n) + "]";
    set = data::subset(set, data::choose_audit_indices(set.size(), n, crng::derive_key(c.seed, purpose)), name);
  };
  reduce(d.train, c.train_subset, kPurposeTrainSubset, "train_subset");
  reduce(d.test, c.test_subset, kPurposeTestSubset, "test_subset");
  return d;
}

void check_model_fits(const RunConfig& c, const data::Dataset& train) {
  int64_t k = train.num_classes();
  SP_CHECK(!c.model_classes_given || c.model.num_classes == k, "model.num_classes is ", c.model.num_classes,
           " but dataset '", c.dataset.str(), "' has ", k, " classes");
  SP_CHECK(train.channels() == c.model.in_channels && train.height() == c.model.image_size &&
               train.width() == c.model.image_size,
           "model ", c.model.name, " takes ", c.model.in_channels, "x", c.model.image_size, "x", c.model.image_size,
           " images but dataset '", c.dataset.str(), "' has ", train.channels(), "x", train.height(), "x",
           train.width());
  SP_CHECK(c.num_audit < train.size(), "audit.num_audit ", c.num_audit, " must be below the training set size ",
           train.size());
}

std::vector<std::string> json_differences(const json& a, const json& b) {
  std::vector<std::string> out;
  auto rec = [&](auto&& self, const json& x, const json& y, const std::string& path) -> void {
    if (x.is_object() && y.is_object()) {
      for (auto it = x.begin(); it != x.end(); ++it) {
        std::string p = path.empty() ? it.key() : path + "." + it.key();
        if (y.contains(it.key()))
          self(self, it.value(), y[it.key()], p);
        else
          out.push_back(p + ": " + it.value().dump() + " -> (absent)");
      }
      for (auto it = y.begin(); it != y.end(); ++it)
        if (!x.contains(it.key()))
          out.push_back((path.empty() ? it.key() : path + "." + it.key()) + ": (absent) -> " + it.value().dump());
      return;
    }
    if (x != y) out.push_back((path.empty() ? "(top level)" : path) + ": " + x.dump() + " -> " + y.dump());
  };
  rec(rec, a, b, "");
  return out;
}

uint64_t shadow_seed(uint64_t seed, int k) { return crng::mix64(crng::derive_key(seed, kPurposeShadow) + uint64_t(k)); }

}  // namespace sp
