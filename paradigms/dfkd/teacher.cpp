// Teacher experiments and teacher models of data-free distillation (see teacher.h).
#include "paradigms/dfkd/teacher.h"

#include <chrono>
#include <filesystem>

#include "data/experiment.h"
#include "nn/safetensors.h"
#include "paradigms/engine/model_file.h"
#include "paradigms/engine/shadow_metrics.h"
#include "paradigms/engine/shadow_train.h"
#include "paradigms/paradigm.h"

namespace fs = std::filesystem;

namespace sp::dfkd {

namespace {

bool has_batch_norm(const Model& m) {
  for (const ParamSpec& b : m.buffers().specs())
    if (b.name.size() > 13 && b.name.compare(b.name.size() - 13, 13, ".running_mean") == 0) return true;
  return false;
}

// What must agree for teacher k to have been trained on the student's D_k.
void check_same_data(const RunConfig& student, const TeacherExperiment& te) {
  nlohmann::json a = student.identity(), b = te.cfg.identity();
  // How each side is queried follows its own recipe's augmentation, not the data.
  for (nlohmann::json* j : {&a, &b})
    if (j->contains("audit") && (*j)["audit"].is_object()) (*j)["audit"].erase("query_views");
  std::vector<std::string> diff;
  for (const char* key : {"seed", "num_shadows", "dataset", "audit"})
    for (const std::string& d : json_differences(nlohmann::json{{key, a.value(key, nlohmann::json())}},
                                                 nlohmann::json{{key, b.value(key, nlohmann::json())}}))
      diff.push_back(d);
  if (diff.empty()) return;
  std::string list;
  for (const std::string& d : diff) list += "\n  " + d;
  throw Error("dfkd.teacher: the teacher experiment " + te.dir +
              " was made from other data, audit samples or membership (student -> teacher):" + list);
}

}  // namespace

TeacherExperiment teacher_experiment(const RunConfig& student, const DfkdConfig& c, const std::string& dir) {
  TeacherExperiment te;
  if (c.teacher_experiment.empty()) {
    te.dir = fs::absolute(fs::path(dir) / "teacher").lexically_normal().string();
    te.cfg = teacher_run_config(student, c);
    te.owned = true;
    return te;
  }
  te.dir = fs::absolute(c.teacher_experiment).lexically_normal().string();
  SP_CHECK(fs::is_directory(te.dir), "dfkd.teacher.experiment: ", c.teacher_experiment,
           " does not exist (train the baseline there first, or give dfkd.teacher a model and recipe instead)");
  const std::string cpath = te.dir + "/config.json";
  SP_CHECK(fs::exists(cpath), "dfkd.teacher.experiment: ", c.teacher_experiment,
           " is not an experiment directory (no config.json)");
  te.cfg = load_stored_config(cpath);
  return te;
}

void check_teachers(const ExperimentRun& run, const DfkdConfig& c) {
  TeacherExperiment te = teacher_experiment(run.cfg, c, run.exp.dir);
  SP_CHECK(te.cfg.paradigm != "dfkd", "dfkd.teacher: ", te.dir, " is itself a DFKD experiment; its models are students");
  check_same_data(run.cfg, te);
  ModelConfig mc = te.cfg.model;
  mc.num_classes = run.cfg.model.num_classes;
  SP_CHECK(!te.cfg.model_classes_given || te.cfg.model.num_classes == run.cfg.model.num_classes, "dfkd.teacher: ",
           te.dir, " has ", te.cfg.model.num_classes, " classes, the student ", run.cfg.model.num_classes);
  std::unique_ptr<Model> m = make_model(mc);
  SP_CHECK(has_batch_norm(*m), "dfkd.teacher: the teacher ", mc.name, " (", te.dir,
           ") has no BatchNorm layers; the synthesis loss matches the statistics of the teacher's BatchNorm "
           "layers, so the teacher must have them (resnet18, wrn16_4)");
  // Teachers already trained: their files must be of this architecture.
  for (int k = 0; k < run.cfg.num_shadows; ++k) {
    const std::string path = te.dir + "/shadow/" + std::to_string(k) + "/model.safetensors";
    if (!fs::exists(path)) continue;
    TensorFile h = read_safetensors_header(path);
    auto meta = [&](const char* key) { return h.metadata.count(key) ? h.metadata.at(key) : std::string("?"); };
    SP_CHECK(meta("model") == mc.name && meta("width") == std::to_string(mc.width) &&
                 meta("num_classes") == std::to_string(mc.num_classes),
             "dfkd.teacher: ", path, " is a ", meta("model"), " of width ", meta("width"), " with ",
             meta("num_classes"), " classes; the teacher experiment's configuration and the student need a ",
             mc.name, " of width ", mc.width, " with ", mc.num_classes, " classes");
  }
  // A named experiment that already holds audit files must hold the student's.
  if (fs::exists(te.dir + "/experiment.json")) {
    data::Experiment e = data::open_experiment(te.dir);
    SP_CHECK(e.audit.indices == run.exp.audit.indices && e.audit.labels == run.exp.audit.labels &&
                 e.membership.keep == run.exp.membership.keep && e.config.dataset_fingerprint == run.exp.config.dataset_fingerprint,
             "dfkd.teacher: ", te.dir, " has other audit samples, canary labels, membership or training data than ",
             run.exp.dir);
  }
}

Teacher obtain_teacher(const ExperimentRun& run, const DfkdConfig& c, int k, Stream& s, ProgressPrinter* progress) {
  TeacherExperiment te = teacher_experiment(run.cfg, c, run.exp.dir);
  const std::string shadow = te.dir + "/shadow/" + std::to_string(k);
  Teacher t;
  if (!shadow_finished(shadow)) {
    // Trained as its paradigm trains shadow k, in the teacher experiment, on the data already loaded.
    auto t0 = std::chrono::steady_clock::now();
    ExperimentRun tr = run;
    tr.cfg = te.cfg;
    tr.cfg.model.num_classes = run.cfg.model.num_classes;
    tr.exp = create_or_open_run_dir(tr.cfg, te.dir, run.exp.config, run.train_labels);
    // The teachers' own population queries, so the teacher experiment can be attacked with RMIA too.
    tr.population = choose_population(run.data, tr.cfg.population);
    write_population_files(te.dir, tr.population);
    if (progress) progress->line("shadow " + std::to_string(k) + ": training its teacher in " + te.dir);
    ShadowOptions opt;
    opt.checkpoint_interval_s = run.checkpoint_interval_s;
    opt.progress = progress;
    opt.wait_if_busy = true;  // another experiment sharing this teacher is training it: use its result
    ShadowResult r = train_shadow(tr, k, s, paradigm_of(tr.cfg), opt);
    if (progress) progress->set_prefix("shadow " + std::to_string(k));
    SP_CHECK(!r.busy, "dfkd: teacher ", k, " in ", te.dir, " is being trained by another process; rerun when it is done");
    t.train_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  t.path = shadow + "/model.safetensors";
  t.metrics = cfg::read_json_object(shadow + "/metrics.json");
  ModelConfig mc = te.cfg.model;
  mc.num_classes = run.cfg.model.num_classes;
  t.model = make_model(mc);
  t.theta = Tensor::empty({t.model->params().numel()}, DType::f32, s);
  t.buffers = Tensor::empty({std::max<int64_t>(t.model->buffers().numel(), 0)}, DType::f32, s);
  load_model(t.path, *t.model, t.theta, t.buffers, s);
  return t;
}

}  // namespace sp::dfkd
