// Parsing the "dfkd" configuration section (see dfkd_config.h). Tested in tests/test_dfkd_config.cpp.
#include "paradigms/dfkd/dfkd_config.h"

#include "kernels/error.h"

namespace sp::dfkd {

namespace {
const std::vector<std::string> kMethods = {"bn", "fast"};

// The teacher's configuration as a JSON document: the student's shared sections, paradigm baseline. The
// teachers are queried on the views of their own recipe's augmentation (its default), not the student's.
nlohmann::json teacher_document(const nlohmann::json& student, const nlohmann::json& model, const nlohmann::json& recipe) {
  nlohmann::json j = {{"paradigm", "baseline"}, {"model", model}, {"recipe", recipe}};
  for (const char* key : {"seed", "num_shadows", "dataset", "audit", "device"})
    if (student.contains(key)) j[key] = student[key];
  if (j.contains("audit") && j["audit"].is_object()) j["audit"].erase("query_views");
  return j;
}
}  // namespace

std::string method_name(Method m) { return kMethods[size_t(m)]; }

void read_dfkd(cfg::Fields& root, const RunConfig& run, const nlohmann::json& root_out, DfkdConfig& c,
               cfg::Errors& errors, nlohmann::json& out) {
  cfg::Fields f = root.object("dfkd");
  const std::string method = f.string("method", "bn", kMethods);
  c.method = method == "fast" ? Method::fast : Method::bn;
  const bool fast = c.method == Method::fast;
  out = {{"method", method}};

  // The teacher: an existing experiment, or a baseline trained under OUT/teacher.
  f.require("teacher");
  cfg::Fields t = f.object("teacher");
  nlohmann::json teacher_out = nlohmann::json::object();
  if (t.has("experiment")) {
    c.teacher_experiment = t.string("experiment", "");
    if (c.teacher_experiment.empty()) t.error("experiment", "must name a directory");
    t.reject({"model", "recipe"}, "the teachers come from dfkd.teacher.experiment (its config.json defines them)");
    teacher_out["experiment"] = c.teacher_experiment;
  } else if (f.has("teacher")) {
    const nlohmann::json* model = t.raw("model");
    const nlohmann::json* recipe = t.raw("recipe");
    if (!recipe) t.error("recipe", "missing (required unless dfkd.teacher.experiment names an existing experiment)");
    c.teacher_model = model ? *model : nlohmann::json::object();
    if (recipe) {
      c.teacher_recipe = *recipe;
      // Validated now, as the configuration the teachers will be trained with.
      try {
        (void)parse_config(teacher_document(root_out, model ? *model : root_out.value("model", nlohmann::json()), *recipe),
                           f.path("teacher"));
      } catch (const Error& e) {
        std::string what = e.what();  // "dfkd.teacher: N problems:\n  ..." without its source prefix
        const std::string prefix = f.path("teacher") + ": ";
        if (what.rfind(prefix, 0) == 0) what = what.substr(prefix.size());
        errors.add(f.path("teacher"), "the teacher's baseline configuration has " + what);
      }
    }
    teacher_out["model"] = c.teacher_model;
    teacher_out["recipe"] = c.teacher_recipe;
  }
  t.finish();
  out["teacher"] = teacher_out;

  c.warmup = f.integer("warmup", 20, 0, 1000000);
  if (c.warmup >= run.recipe.epochs)
    f.error("warmup", std::to_string(c.warmup) + " must be below recipe.epochs (" + std::to_string(run.recipe.epochs) +
                          "): the student trains only after the warm-up");
  c.kd_steps = f.integer("kd_steps", fast ? 400 : 0, 0, 100000000);
  c.student_passes = f.integer("student_passes", c.kd_steps > 0 ? 0 : 5, 0, 100000);
  if (f.has("kd_steps") && f.has("student_passes") && c.kd_steps > 0 && c.student_passes > 0)
    f.error("kd_steps", "give kd_steps (student steps per epoch) or student_passes (passes over the bank), not both");
  if (c.kd_steps > 0) c.student_passes = 0;
  if (c.kd_steps == 0 && c.student_passes == 0) f.error("student_passes", "the student needs kd_steps or student_passes > 0");
  c.temperature = f.number("temperature", 20, 1e-6);
  c.cosine_t_max = f.integer("cosine_t_max", 200, 1, 100000000);
  c.eta_min = f.number("eta_min", 2e-4, 0, run.recipe.schedule.base_lr);
  c.keep_best = f.boolean("keep_best", true);
  if (run.schedule.kind != ScheduleKind::constant)
    root.error("recipe", "schedule: the DFKD student's learning rate follows dfkd.cosine_t_max / dfkd.eta_min per epoch "
                         "after the warm-up (the reference's CosineAnnealingLR); leave recipe.schedule out");
  out.update({{"warmup", c.warmup}, {"kd_steps", c.kd_steps}, {"student_passes", c.student_passes},
              {"temperature", c.temperature}, {"cosine_t_max", c.cosine_t_max}, {"eta_min", c.eta_min},
              {"keep_best", c.keep_best}});

  cfg::Fields g = f.object("generator");
  c.latent = g.integer("latent", 256, 1, 1 << 20);
  c.width = g.integer("width", 64, 1, 1 << 16);
  g.finish();
  out["generator"] = {{"latent", c.latent}, {"width", c.width}};

  cfg::Fields s = f.object("synthesis");
  SynthesisConfig& y = c.synthesis;
  y.batch = s.integer("batch", 256, 1, 1 << 20);
  y.g_steps = s.integer("g_steps", 2, 1, 1000000);
  y.lr_g = s.number("lr_g", 5e-3, 0);
  y.lr_z = s.number("lr_z", 0.015, 0);
  y.bn_weight = s.number("bn", fast ? 10 : 1, 0);
  y.oh_weight = s.number("oh", fast ? 0.5 : 0, 0);
  y.adv_weight = s.number("adv", fast ? 1.33 : 0, 0);
  y.bn_momentum = s.number("bn_momentum", 0.9, 0, 1);
  y.meta = fast;
  y.reset_epoch = s.integer("reset_epoch", fast ? 120 : 0, 0, 100000000);
  if (!fast) s.reject({"reset_epoch"}, "only used by method fast");
  y.crop_pad = int32_t(s.integer("crop_pad", 4, 0, 64));
  y.flip = s.boolean("flip", true);
  if (y.bn_weight == 0) s.error("bn", "must be > 0: the BatchNorm-statistics loss is what inverts the teacher");
  s.finish();
  out["synthesis"] = {{"batch", y.batch}, {"g_steps", y.g_steps}, {"lr_g", y.lr_g}, {"lr_z", y.lr_z},
                      {"bn", y.bn_weight}, {"oh", y.oh_weight}, {"adv", y.adv_weight},
                      {"bn_momentum", y.bn_momentum}, {"crop_pad", y.crop_pad}, {"flip", y.flip}};
  if (fast) out["synthesis"]["reset_epoch"] = y.reset_epoch;

  cfg::Fields d = f.object("distances");
  c.clean_samples = d.integer("clean_samples", 500, 0, 1 << 24);
  d.finish();
  out["distances"] = {{"clean_samples", c.clean_samples}};
  f.finish();
}

RunConfig teacher_run_config(const RunConfig& student, const DfkdConfig& c) {
  nlohmann::json model = c.teacher_model.is_object() && !c.teacher_model.empty() ? c.teacher_model : student.resolved["model"];
  nlohmann::json j = teacher_document(student.resolved, model, c.teacher_recipe);
  return parse_config(j, "dfkd.teacher");
}

}  // namespace sp::dfkd
