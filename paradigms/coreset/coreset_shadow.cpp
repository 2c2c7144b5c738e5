// Coreset selection inside a shadow model's training (see coreset_shadow.h).
#include "paradigms/coreset/coreset_shadow.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <functional>

#include "data/atomic_file.h"
#include "data/file_util.h"
#include "data/npy.h"
#include "paradigms/json_fields.h"
#include "kernels/counter_rng.h"
#include "paradigms/coreset/select.h"
#include "paradigms/engine/shadow_train.h"

namespace fs = std::filesystem;

namespace sp::coreset {

namespace {

constexpr uint64_t kPurposeSelect = 0x434f524553454cULL;  // "CORESEL"

struct Paths {
  std::string record, groups, selected;
  explicit Paths(const std::string& d) : record(d + "/coreset.json"), groups(d + "/groups.npy"), selected(d + "/selected.npy") {}
};


// The coreset as read back from selected.npy: ascending, distinct, inside the private set.
std::vector<int64_t> read_selected(const std::string& path, const data::TrainingSet& ts) {
  npy::Reader r(path);
  SP_CHECK(r.shape().size() == 1, path, ": expected a 1-d index array, got shape ", npy::shape_str(r.shape()));
  std::vector<int64_t> v = r.read_integers();
  SP_CHECK(std::adjacent_find(v.begin(), v.end(), std::greater_equal<int64_t>()) == v.end(), path,
           ": indices must be strictly ascending");
  SP_CHECK(std::includes(ts.indices.begin(), ts.indices.end(), v.begin(), v.end()), path,
           ": holds indices outside this model's private training set (another experiment's file?)");
  return v;
}

}  // namespace

ShadowCoreset restrict_to_coreset(const ExperimentRun& run, int k, data::TrainingSet& ts, Stream& s,
                                  ProgressPrinter* progress) {
  const RunConfig& cfg = run.cfg;
  const CoresetConfig& cc = cfg.settings<CoresetConfig>();
  const Paths p(run.exp.shadow_dir(k));
  const std::string name = "shadow " + std::to_string(k);
  ShadowCoreset out;
  nlohmann::json record;
  std::vector<int64_t> selected;
  if (fs::exists(p.selected)) {
    selected = read_selected(p.selected, ts);
    record = cfg::read_json_object(p.record);
    out.reused = true;
    if (progress) progress->line(name + ": reusing its coreset (selected.npy, " + std::to_string(selected.size()) + " samples)");
  } else {
    auto t0 = std::chrono::steady_clock::now();
    DeviceData d = upload_training_set(run, ts, name + " private set", s);
    std::unique_ptr<Model> model = make_model(cfg.model);
    SelectionContext ctx;
    ctx.model = model.get();
    ctx.recipe = cfg.recipe_for(d.size());
    ctx.data = &d;
    ctx.stream = &s;
    ctx.eval_batch = cfg.eval_batch;
    ctx.seed = crng::derive_key(shadow_seed(cfg.seed, k), kPurposeSelect);
    ctx.progress = progress;
    ctx.name = name + " selection";
    SelectionResult r = select_coreset(cc, ctx);
    for (int64_t pos : r.positions) selected.push_back(ts.indices[size_t(pos)]);
    record = r.details;
    if (!r.scores.empty()) {
      // How the method ranks the IN canaries against the rest of D_k: the reason they are or are not kept.
      std::vector<double> canary, other;
      for (size_t pos = 0; pos < r.scores.size(); ++pos)
        (std::binary_search(run.exp.audit.indices.begin(), run.exp.audit.indices.end(), ts.indices[pos]) ? canary : other)
            .push_back(r.scores[pos]);
      record["scores_of_in_canaries"] = score_summary(canary);
      record["scores_of_others"] = score_summary(other);
    }
    record["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    record["private_size"] = int64_t(ts.indices.size());
    record["size"] = int64_t(selected.size());
    fs::create_directories(run.exp.shadow_dir(k));
    write_file_atomic(p.record, record.dump(2) + "\n");
  }
  std::vector<int64_t> groups = shadow_groups(run.exp.audit, run.exp.membership, k, selected, "coreset");
  const int64_t M = run.exp.audit.size();
  npy::write(p.groups, std::vector<int64_t>{M}, groups);
  if (!out.reused) npy::write(p.selected, std::vector<int64_t>{int64_t(selected.size())}, selected);

  // Restrict the private set; record what the coreset holds.
  const int64_t private_size = int64_t(ts.indices.size());
  data::TrainingSet sub;
  std::vector<int64_t> histogram(size_t(cfg.model.num_classes), 0);
  for (size_t i = 0, j = 0; i < ts.indices.size() && j < selected.size(); ++i) {
    if (ts.indices[i] != selected[j]) continue;
    sub.indices.push_back(ts.indices[i]);
    sub.labels.push_back(ts.labels[i]);
    ++histogram[size_t(ts.labels[i])];
    ++j;
  }
  SP_CHECK(sub.indices.size() == selected.size(), "coreset of model ", k, ": ", selected.size() - sub.indices.size(),
           " selected samples are not in its private set");
  ts = std::move(sub);
  int64_t in = 0, in_selected = 0;
  for (int64_t g : groups) in += g != kOut, in_selected += g == kSelected;
  out.seconds = record.value("seconds", 0.0);
  out.metrics = {{"method", method_name(cc.method)},
                 {"fraction", cc.fraction},
                 {"balance", cc.balance},
                 {"private_size", private_size},
                 {"size", int64_t(selected.size())},
                 {"class_histogram", histogram},
                 {"in_canaries", in},
                 {"in_canaries_selected", in_selected},
                 {"in_canaries_selected_fraction", in ? double(in_selected) / double(in) : 0.0},
                 {"selection_reused", out.reused},
                 {"selection", record}};
  char line[200];
  std::snprintf(line, sizeof line, "%s: coreset %s %lld of %lld samples in %s; %lld of %lld IN canaries selected (%.0f%%)",
                name.c_str(), method_name(cc.method).c_str(), (long long)selected.size(),
                (long long)private_size, format_duration(out.seconds).c_str(), (long long)in_selected, (long long)in,
                in ? 100.0 * double(in_selected) / double(in) : 0.0);
  if (progress) progress->line(line);
  return out;
}

}  // namespace sp::coreset
