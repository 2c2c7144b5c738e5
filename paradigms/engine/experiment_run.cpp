// Opening an experiment for training (see experiment_run.h).
#include "paradigms/engine/experiment_run.h"

#include <chrono>
#include <filesystem>

#include "data/atomic_file.h"
#include "paradigms/json_fields.h"

namespace fs = std::filesystem;

namespace sp {

namespace {
std::string config_path(const std::string& dir) { return dir + "/config.json"; }

// Whether a stored configuration predates audit.query_views (then every shadow was queried on all 18 views).
bool lacks_query_views(const nlohmann::json& stored) {
  return stored.is_object() && stored.contains("audit") && stored["audit"].is_object() &&
         !stored["audit"].contains("query_views");
}

void fill_stored_defaults(nlohmann::json& stored) {
  if (lacks_query_views(stored)) stored["audit"]["query_views"] = data::query_views_name(data::QueryViews::all);
}
}  // namespace

RunConfig load_stored_config(const std::string& path) {
  cfg::Errors errors;
  nlohmann::json j = cfg::parse_json_file(path, errors);
  errors.throw_if_any(path);
  fill_stored_defaults(j);
  return parse_config(j, path);
}

void check_run_dir(const std::string& dir, RunConfig& cfg) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) return;
  SP_CHECK(fs::is_directory(dir, ec), "output '", dir, "' exists and is not a directory");
  // Without experiment.json the directory is being created, or is fresh (checked exactly under the lock).
  SP_CHECK(data::may_hold_experiment(dir), "output '", dir,
           "' exists and is not an experiment directory (no experiment.json); refusing to write into it");
  if (!fs::exists(config_path(dir))) return;  // created by another tool: config.json is added below
  cfg::Errors errors;
  nlohmann::json have = cfg::parse_json_file(config_path(dir), errors);
  errors.throw_if_any(config_path(dir));
  // A directory from before population queries existed takes the requested population: it never changes what
  // a model trains on, and finished shadows get their population queries from their model files.
  if (have.is_object() && have.contains("audit") && have["audit"].is_object() && !have["audit"].contains("population"))
    have["audit"]["population"] = cfg.population;
  // Unlike the population, the query views decide the shape of every shadow's logits: the directory's
  // views win over a default, and an explicit other choice is a difference.
  if (lacks_query_views(have) && !cfg.query_views_given) {
    cfg.query_views = data::QueryViews::all;
    cfg.resolved["audit"]["query_views"] = data::query_views_name(cfg.query_views);
  }
  fill_stored_defaults(have);
  RunConfig old = parse_config(have, config_path(dir));
  std::vector<std::string> diff = json_differences(old.identity(), cfg.identity());
  if (diff.empty()) return;
  std::string list;
  for (const auto& d : diff) list += "\n  " + d;
  throw Error(dir + " holds an experiment with a different configuration (" + std::to_string(diff.size()) +
              (diff.size() == 1 ? " difference" : " differences") + ", existing -> requested):" + list +
              "\nchoose another --out directory or remove this one");
}

data::Experiment create_or_open_run_dir(RunConfig& cfg, const std::string& dir, const data::ExperimentConfig& ec,
                                        const std::vector<int64_t>& train_labels) {
  data::ExperimentLock lock(dir);
  check_run_dir(dir, cfg);
  data::Experiment e = data::create_or_open_experiment(lock, ec, train_labels);
  if (!fs::exists(config_path(dir))) write_file_atomic(config_path(dir), cfg.resolved.dump(2) + "\n");
  return e;
}

ExperimentRun prepare_experiment_run(const RunConfig& config, const std::string& dir) {
  ExperimentRun r;
  r.cfg = config;
  RunConfig& cfg = r.cfg;
  check_run_dir(dir, cfg);  // before loading the data; checked again under the lock
  r.data = load_run_dataset(cfg);
  check_model_fits(cfg, r.data.train);
  cfg.model.num_classes = r.data.train.num_classes();
  r.train_labels = r.data.train.labels.to_vector<int64_t>();
  r.population = choose_population(r.data, cfg.population);  // refused before the directory is touched
  data::ExperimentConfig ec = data::make_experiment_config(cfg.dataset.str(), r.data.train, cfg.seed, cfg.num_audit,
                                                           cfg.num_shadows, cfg.canary);
  r.exp = create_or_open_run_dir(cfg, dir, ec, r.train_labels);
  r.trained_labels = data::training_labels(r.train_labels, r.exp.audit);
  write_population_files(dir, r.population);
  return r;
}

ExperimentRun open_experiment_run(const RunConfig& cfg, const std::string& dir, Stream& s) {
  auto t0 = std::chrono::steady_clock::now();
  ExperimentRun r = prepare_experiment_run(cfg, dir);
  data::Dataset trained = r.data.train;
  trained.labels = Tensor::from_vector(r.trained_labels, {int64_t(r.trained_labels.size())});
  r.train = DeviceData::upload(trained, s);
  r.test = DeviceData::upload(r.data.test, s);
  s.synchronize();
  r.load_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

}  // namespace sp
