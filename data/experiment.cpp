// Experiment directory: creation, reopening and validation (see experiment.h).
#include "data/experiment.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>

#include "data/json_read.h"
#include "data/npy.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace sp::data {
namespace {

constexpr const char* kFormat = "synpriv-experiment";
constexpr int kVersion = 1;

json to_json(const ExperimentConfig& c) {
  return json{{"format", kFormat},
              {"version", kVersion},
              {"seed", c.seed},
              {"dataset",
               {{"spec", c.dataset},
                {"fingerprint", c.dataset_fingerprint},
                {"train_size", c.train_size},
                {"classes", c.classes}}},
              {"audit", {{"num_audit", c.num_audit}, {"canary", canary_name(c.canary)}}},
              {"shadow", {{"num_models", c.num_models}, {"in_per_sample", c.num_models / 2}}}};
}

ExperimentConfig from_json(const json& j, const std::string& file) {
  try {
    SP_CHECK(j.at("format") == kFormat && j.at("version") == kVersion, file, ": not a ", kFormat, " version ",
             kVersion, " file");
    ExperimentConfig c;
    c.seed = j.at("seed").get<uint64_t>();
    const json& d = j.at("dataset");
    c.dataset = d.at("spec").get<std::string>();
    c.dataset_fingerprint = d.at("fingerprint").get<std::string>();
    c.train_size = d.at("train_size").get<int64_t>();
    c.classes = d.at("classes").get<std::vector<std::string>>();
    c.num_audit = j.at("audit").at("num_audit").get<int64_t>();
    c.canary = parse_canary(j.at("audit").at("canary").get<std::string>());
    c.num_models = j.at("shadow").at("num_models").get<int>();
    return c;
  } catch (const json::exception& e) {
    SP_FAIL(file, ": malformed experiment record (", json_error_text(e), ")");
  }
}

void check_config(const ExperimentConfig& c, const char* who) {
  SP_CHECK(c.train_size >= 1 && c.classes.size() >= 2 && !c.dataset.empty(), who, ": incomplete configuration (dataset '",
           c.dataset, "', ", c.train_size, " training samples, ", c.classes.size(), " classes)");
  SP_CHECK(c.num_audit >= 1 && c.num_audit <= c.train_size, who, ": ", c.num_audit, " audit samples for ", c.train_size,
           " training samples");
  SP_CHECK(c.num_models >= 2 && c.num_models % 2 == 0, who, ": the number of shadow models must be even and >= 2, got ",
           c.num_models);
}

// Every difference between two JSON values, as "key.path: A here, B requested; ...".
void differences(const json& have, const json& want, const std::string& at, std::string& out) {
  auto add = [&](const std::string& d) { out += (out.empty() ? "" : "; ") + d; };
  if (!have.is_object() || !want.is_object()) {
    if (have != want) add(at + ": " + have.dump() + " here, " + want.dump() + " requested");
    return;
  }
  for (auto it = want.begin(); it != want.end(); ++it) {
    std::string key = at.empty() ? it.key() : at + "." + it.key();
    if (!have.contains(it.key()))
      add(key + ": missing here, " + it.value().dump() + " requested");
    else
      differences(have.at(it.key()), it.value(), key, out);
  }
  for (auto it = have.begin(); it != have.end(); ++it)
    if (!want.contains(it.key())) add((at.empty() ? it.key() : at + "." + it.key()) + ": not in the request");
}

std::vector<int64_t> read_i64(const std::string& path, int64_t n) {
  SP_CHECK(fs::is_regular_file(path), path, ": missing");
  npy::Reader r(path);
  SP_CHECK(r.dtype() == DType::i64 && r.shape() == std::vector<int64_t>{n}, path, ": expected int64 [", n, "], got ",
           npy::descr_of(r.dtype()), " ", npy::shape_str(r.shape()));
  return r.read_all<int64_t>();
}

std::vector<uint8_t> read_keep(const std::string& path, int64_t n) {
  SP_CHECK(fs::is_regular_file(path), path, ": missing");
  npy::Reader r(path);
  SP_CHECK(r.dtype() == DType::boolean && r.shape() == std::vector<int64_t>{n}, path, ": expected bool [", n,
           "], got ", npy::descr_of(r.dtype()), " ", npy::shape_str(r.shape()));
  std::vector<uint8_t> v(static_cast<size_t>(n));
  r.read(v.data(), 0, n);
  for (uint8_t b : v) SP_CHECK(b <= 1, path, ": boolean array holds the byte ", int(b));
  return v;
}

// experiment.json last: it marks the directory complete.
void write_tree(const std::string& root, const ExperimentConfig& cfg, const AuditSet& a, const Membership& m) {
  fs::create_directories(root + "/audit");
  std::vector<int64_t> shape{a.size()};
  npy::write(root + "/audit/indices.npy", shape, a.indices);
  npy::write(root + "/audit/labels.npy", shape, a.labels);
  npy::write(root + "/audit/true_labels.npy", shape, a.true_labels);
  for (int k = 0; k < m.num_models; ++k) {
    std::string d = root + "/shadow/" + std::to_string(k);
    fs::create_directories(d);
    npy::write_bool(d + "/keep.npy", shape, m.row(k));
  }
  write_file_atomic(root + "/experiment.json", to_json(cfg).dump(2) + "\n");
}

// The files in `e` against what its seed produces; errors name the first file that differs.
void verify_against_seed(const Experiment& e) {
  const ExperimentConfig& c = e.config;
  SP_CHECK(e.audit.indices == choose_audit_indices(c.train_size, c.num_audit, c.seed), e.dir,
           "/audit/indices.npy: not the audit samples seed ", c.seed, " selects from ", c.train_size,
           " training samples (edited or from another experiment)");
  for (int64_t j = 0; j < e.audit.size(); ++j) {
    int64_t y = e.audit.true_labels[size_t(j)], want = y;
    SP_CHECK(y >= 0 && y < int64_t(c.classes.size()), e.dir, "/audit/true_labels.npy: label ", y, " of audit sample ",
             j, " out of range [0, ", c.classes.size(), ")");
    if (c.canary == CanaryType::mislabel) want = canary_label(c.seed, e.audit.indices[size_t(j)], y, int(c.classes.size()));
    // The expected training label is derived from true_labels.npy, so a mismatch may lie in either file.
    SP_CHECK(e.audit.labels[size_t(j)] == want, e.dir, "/audit/labels.npy and ", e.dir,
             "/audit/true_labels.npy disagree at audit sample ", j, ": training label ", e.audit.labels[size_t(j)],
             ", true label ", y, ", whose ", canary_name(c.canary), " canary of seed ", c.seed, " is ", want,
             " (one of the two files was edited or comes from another experiment)");
  }
  Membership want = assign_membership(c.num_audit, c.num_models, c.seed);
  for (int k = 0; k < c.num_models; ++k)
    SP_CHECK(e.membership.row(k) == want.row(k), e.shadow_dir(k), "/keep.npy: not the membership seed ", c.seed,
             " gives model ", k);
}

}  // namespace

std::string Experiment::shadow_dir(int k) const {
  SP_CHECK(k >= 0 && k < config.num_models, "experiment '", dir, "': shadow model ", k, " out of range [0, ",
           config.num_models, ")");
  return dir + "/shadow/" + std::to_string(k);
}

ExperimentConfig make_experiment_config(const std::string& dataset_spec, const Dataset& train, uint64_t seed,
                                        int64_t num_audit, int num_models, CanaryType canary) {
  ExperimentConfig c;
  c.seed = seed;
  c.dataset = dataset_spec;
  c.dataset_fingerprint = fingerprint(train);
  c.classes = train.classes;
  c.train_size = train.size();
  c.num_audit = num_audit;
  c.num_models = num_models;
  c.canary = canary;
  return c;
}

Experiment open_experiment(const std::string& dir) {
  std::string jpath = dir + "/experiment.json";
  SP_CHECK(fs::is_regular_file(jpath), "experiment '", dir, "': ", jpath, " not found");
  const json j = read_json_file(jpath);
  Experiment e;
  e.dir = dir;
  e.config = from_json(j, jpath);
  try {
    check_config(e.config, "experiment");
  } catch (const Error& err) {
    SP_FAIL(jpath, ": ", err.what());
  }
  const ExperimentConfig& c = e.config;
  e.audit.canary = c.canary;
  e.audit.indices = read_i64(dir + "/audit/indices.npy", c.num_audit);
  e.audit.labels = read_i64(dir + "/audit/labels.npy", c.num_audit);
  e.audit.true_labels = read_i64(dir + "/audit/true_labels.npy", c.num_audit);
  e.membership.num_models = c.num_models;
  e.membership.num_audit = c.num_audit;
  for (int k = 0; k < c.num_models; ++k) {
    std::vector<uint8_t> row = read_keep(e.shadow_dir(k) + "/keep.npy", c.num_audit);
    e.membership.keep.insert(e.membership.keep.end(), row.begin(), row.end());
  }
  verify_against_seed(e);
  return e;
}

namespace {

void check_request(const std::string& dir, const ExperimentConfig& cfg, const std::vector<int64_t>& train_labels) {
  check_config(cfg, "experiment");
  SP_CHECK(int64_t(train_labels.size()) == cfg.train_size, "experiment '", dir, "': configuration says ",
           cfg.train_size, " training samples, ", train_labels.size(), " labels given");
}

// What an interrupted creation can leave (paths relative to the experiment directory): the files creation
// writes and the temporaries of their atomic writes.
bool is_creation_entry(const std::string& rel, bool is_dir) {
  static const std::regex dirs(R"(audit|shadow|shadow/[0-9]+)");
  static const std::regex files(
      R"((\.lock|audit/(indices|labels|true_labels)\.npy|shadow/[0-9]+/keep\.npy)(\.tmp\.[0-9]+\.[0-9]+)?)");
  return std::regex_match(rel, is_dir ? dirs : files);
}

std::string lock_path_of(const std::string& dir) {
  SP_CHECK(may_hold_experiment(dir), "experiment '", dir,
           "' exists and is not an experiment directory (no experiment.json); refusing to write into it");
  std::error_code ec;
  fs::create_directories(dir, ec);
  SP_CHECK(!ec && fs::is_directory(dir), "experiment '", dir, "': cannot create the directory: ", ec.message());
  return dir + "/.lock";
}

}  // namespace

bool is_fresh_experiment_dir(const std::string& dir) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) return !ec;
  if (!fs::is_directory(dir, ec) || fs::exists(dir + "/experiment.json", ec)) return false;
  fs::recursive_directory_iterator it(dir, ec), end;
  for (; !ec && it != end; it.increment(ec))
    if (!is_creation_entry(it->path().lexically_relative(dir).generic_string(), it->is_directory(ec))) return false;
  return !ec;
}

bool may_hold_experiment(const std::string& dir) {
  std::error_code ec;
  if (fs::is_directory(dir, ec) &&
      (fs::exists(dir + "/experiment.json", ec) || fs::is_regular_file(dir + "/.lock", ec)))
    return true;
  return is_fresh_experiment_dir(dir);
}

ExperimentLock::ExperimentLock(const std::string& dir) : dir_(dir), lock_(lock_path_of(dir)) {}

Experiment create_or_open_experiment(const std::string& dir, const ExperimentConfig& cfg,
                                     const std::vector<int64_t>& train_labels) {
  check_request(dir, cfg, train_labels);  // before the lock creates the directory
  ExperimentLock lock(dir);
  return create_or_open_experiment(lock, cfg, train_labels);
}

Experiment create_or_open_experiment(const ExperimentLock& held, const ExperimentConfig& cfg,
                                     const std::vector<int64_t>& train_labels) {
  const std::string& dir = held.dir();
  check_request(dir, cfg, train_labels);
  if (fs::exists(dir + "/experiment.json")) {
    Experiment e = open_experiment(dir);
    // The spec is informational (the same data may live at another path); the fingerprint identifies it.
    json have = to_json(e.config), want = to_json(cfg);
    have["dataset"].erase("spec");
    want["dataset"].erase("spec");
    std::string diff;
    differences(have, want, "", diff);
    SP_CHECK(diff.empty(), dir, "/experiment.json: the directory holds a different experiment (", diff,
             "); choose another directory or remove this one");
    for (int64_t j = 0; j < e.audit.size(); ++j)
      SP_CHECK(e.audit.true_labels[size_t(j)] == train_labels[size_t(e.audit.indices[size_t(j)])], dir,
               "/audit/true_labels.npy: audit sample ", j, " does not match the training set's label");
    return e;
  }
  // Checked again under the lock: the directory may have changed since the lock's own check.
  SP_CHECK(is_fresh_experiment_dir(dir), "experiment '", dir,
           "' is not an experiment directory (no experiment.json); refusing to write into it");
  Experiment e;
  e.dir = dir;
  e.config = cfg;
  e.audit = choose_audit_set(train_labels, int(cfg.classes.size()), cfg.num_audit, cfg.canary, cfg.seed);
  e.membership = assign_membership(cfg.num_audit, cfg.num_models, cfg.seed);
  write_tree(dir, cfg, e.audit, e.membership);
  return e;
}

}  // namespace sp::data
