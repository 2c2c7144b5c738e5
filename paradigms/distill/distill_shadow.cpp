// Distillation inside a shadow model's training (see distill_shadow.h).
#include "paradigms/distill/distill_shadow.h"

#include <chrono>
#include <cmath>
#include <filesystem>

#include "data/atomic_file.h"
#include "data/file_util.h"
#include "data/npy.h"
#include "paradigms/json_fields.h"
#include "kernels/counter_rng.h"
#include "nn/safetensors.h"
#include "paradigms/distill/distiller.h"
#include "paradigms/distill/initial_images.h"
#include "paradigms/engine/shadow_groups.h"
#include "paradigms/engine/shadow_train.h"

namespace fs = std::filesystem;

namespace sp::distill {

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

constexpr uint64_t kPurposeDistill = 0x44495354494cULL;  // "DISTIL"

struct Paths {
  std::string checkpoint, init_png, record, groups, synthetic_png, synthetic;
  explicit Paths(const std::string& d)
      : checkpoint(d + "/distill_checkpoint.safetensors"),
        init_png(d + "/init.png"),
        record(d + "/distill.json"),
        groups(d + "/groups.npy"),
        synthetic_png(d + "/synthetic.png"),
        synthetic(d + "/synthetic.safetensors") {}
};


// The distillation network for this experiment's images.
DistillConfig resolved(const ExperimentRun& run) {
  DistillConfig c = run.cfg.settings<DistillConfig>();
  c.net.num_classes = run.cfg.model.num_classes;
  c.net.in_channels = run.data.train.channels();
  c.net.image_size = run.data.train.height();
  return c;
}

// What identifies a distillation, checked when resuming from a checkpoint.
std::map<std::string, std::string> identity(const DistillConfig& c, uint64_t key) {
  return {{"method", method_name(c.method)}, {"ipc", std::to_string(c.ipc)}, {"init", init_name(c.init)},
          {"iterations", std::to_string(c.iterations)}, {"key", std::to_string(key)}};
}

nlohmann::json summary_metrics(const nlohmann::json& record, const std::vector<int64_t>& groups) {
  int64_t in = 0, used = 0;
  for (int64_t g : groups) in += g != kGroupOut, used += g == kGroupFirst;
  const nlohmann::json& curve = record["loss_curve"];
  nlohmann::json m = {{"method", record["method"]},
                      {"ipc", record["ipc"]},
                      {"init", record["init"]},
                      {"iterations", record["iterations"]},
                      {"size", record["size"]},
                      {"seconds", record["seconds"]},
                      {"in_canaries", in},
                      {"in_canaries_init", used},
                      {"in_canaries_init_fraction", in ? double(used) / double(in) : 0.0}};
  if (!curve.empty()) {
    m["first_loss"] = curve.front()[1];
    m["final_loss"] = curve.back()[1];
  }
  return m;
}

}  // namespace

void check_distill_experiment(const ExperimentRun& run) {
  const DistillConfig c = resolved(run);
  if (c.init == Init::ood) load_ood_set(c.ood_data, run.data.train, c.ipc);
  if (c.init == Init::real)
    for (int k = 0; k < run.cfg.num_shadows; ++k)
      check_real_init(data::private_training_set(run.train_labels, run.exp.audit, run.exp.membership, k),
                      run.cfg.model.num_classes, c.ipc, k);
}

ShadowDistillation distill_shadow(const ExperimentRun& run, int k, const data::TrainingSet& ts, Stream& s,
                                  ProgressPrinter* progress) {
  const DistillConfig c = resolved(run);
  const Paths p(run.exp.shadow_dir(k));
  const std::string name = "shadow " + std::to_string(k);
  const int64_t classes = run.cfg.model.num_classes, C = run.data.train.channels(), H = run.data.train.height(),
                W = run.data.train.width();
  const data::Normalization& norm = run.cfg.recipe.augment_cfg.norm;
  auto log = [&](const std::string& text) {
    if (progress) progress->line(text);
  };
  ShadowDistillation out;
  if (fs::exists(p.synthetic)) {
    out.set = load_synthetic(p.synthetic, classes, C, H, W);
    SP_CHECK(out.set.images.size(0) == classes * c.ipc, p.synthetic, ": ", out.set.images.size(0), " images, but ipc ",
             c.ipc, " x ", classes, " classes were configured (another experiment's file?)");
    nlohmann::json record = cfg::read_json_object(p.record);
    npy::Reader r(p.groups);
    out.metrics = summary_metrics(record, r.read_integers());
    out.seconds = record.value("seconds", 0.0);
    out.reused = true;
    out.metrics["reused"] = true;
    log(name + ": reusing its distilled set (synthetic.safetensors, " + std::to_string(out.set.images.size(0)) + " images)");
    return out;
  }

  const auto t0 = Clock::now();
  check_real_init(ts, classes, c.init == Init::real ? c.ipc : 0, k);
  const uint64_t key = crng::derive_key(shadow_seed(run.cfg.seed, k), kPurposeDistill);
  data::Dataset ood;
  if (c.init == Init::ood) ood = load_ood_set(c.ood_data, run.data.train, c.ipc);
  InitialImages init = initial_images(c, run.data.train, ts, run.exp.audit, c.init == Init::ood ? &ood : nullptr,
                                      classes, norm, key);
  std::vector<int64_t> audit_indices;
  for (int64_t j : init.audit_used) audit_indices.push_back(run.exp.audit.indices[size_t(j)]);
  std::vector<int64_t> groups = shadow_groups(run.exp.audit, run.exp.membership, k, audit_indices, "initial images");
  fs::create_directories(run.exp.shadow_dir(k));
  {
    std::vector<bool> framed(init.source.size(), false);
    if (c.init == Init::real)
      for (size_t i = 0; i < init.source.size(); ++i)
        framed[i] = std::binary_search(run.exp.audit.indices.begin(), run.exp.audit.indices.end(), init.source[i]);
    std::vector<int64_t> labels;
    for (int64_t y = 0; y < classes; ++y) labels.insert(labels.end(), size_t(c.ipc), y);
    save_synthetic_grid(p.init_png, init.images, labels, classes, norm, framed);
  }

  DeviceData d = upload_training_set(run, ts, name + " private set", s);
  ClassPool pool(d, classes, norm);
  Distiller dist(c, pool, init.images.to(s.device(), s), key, s);
  std::vector<int64_t> curve_it;
  std::vector<double> curve_loss;
  double seconds_before = 0;
  if (fs::exists(p.checkpoint)) {
    TensorFile f = load_safetensors(p.checkpoint);
    for (const auto& [kk, v] : identity(c, key)) {
      auto it = f.metadata.find(kk);
      SP_CHECK(it != f.metadata.end() && it->second == v, p.checkpoint, ": made by another distillation (", kk, " ",
               it == f.metadata.end() ? std::string("missing") : it->second, ", expected ", v,
               "); remove the file to start over");
    }
    dist.load_state(f.tensors, p.checkpoint);
    curve_it = f.at("loss_iteration").to_vector<int64_t>();
    curve_loss = f.at("loss").to_vector<double>();
    SP_CHECK(curve_it.size() == curve_loss.size(), p.checkpoint, ": loss curve lengths differ");
    seconds_before = std::stod(f.metadata.at("seconds"));
    log(name + ": resuming its distillation after iteration " + std::to_string(dist.iteration()) + "/" +
        std::to_string(c.iterations));
  }
  auto save_checkpoint = [&]() {
    std::map<std::string, Tensor> st = dist.state();
    st["loss_iteration"] = Tensor::from_vector(curve_it, {int64_t(curve_it.size())});
    st["loss"] = Tensor::from_vector(curve_loss, {int64_t(curve_loss.size())});
    std::map<std::string, std::string> meta = identity(c, key);
    char secs[64];
    std::snprintf(secs, sizeof secs, "%.17g", seconds_before + since(t0));
    meta["seconds"] = secs;
    save_safetensors(p.checkpoint, st, meta, s);
  };

  const auto t_loop = Clock::now();
  const int64_t start = dist.iteration();
  auto last_line = Clock::now(), last_checkpoint = Clock::now();
  const double line_every = progress ? std::max(10.0, progress->update_interval_s()) : 1e30;
  while (dist.iteration() < c.iterations) {
    const int64_t it = dist.iteration();
    const double loss = dist.step();
    SP_CHECK(std::isfinite(loss), name, ": the distillation loss became ", loss, " at iteration ", it,
             " (lower distill.lr_img)");
    if (it % c.loss_every == 0 || it + 1 == c.iterations) curve_it.push_back(it), curve_loss.push_back(loss);
    if (since(last_line) >= line_every || it + 1 == c.iterations) {
      const double per = since(t_loop) / double(it + 1 - start);
      char line[200];
      std::snprintf(line, sizeof line, "%s distill %s iteration %lld/%lld  loss %.4g  %.2f s/it  ETA %s", name.c_str(),
                    method_name(c.method).c_str(), (long long)(it + 1), (long long)c.iterations, loss, per,
                    format_duration(per * double(c.iterations - it - 1)).c_str());
      log(line);
      last_line = Clock::now();
    }
    if (it + 1 < c.iterations && since(last_checkpoint) >= run.checkpoint_interval_s) {
      save_checkpoint();
      last_checkpoint = Clock::now();
    }
  }
  out.seconds = seconds_before + since(t0);

  // Outputs; synthetic.safetensors last.
  out.set.images = dist.images().to(Device::cpu(), s).contiguous();
  std::vector<int64_t> labels = dist.labels();
  out.set.labels = Tensor::from_vector(labels, {int64_t(labels.size())});
  nlohmann::json curve = nlohmann::json::array();
  for (size_t i = 0; i < curve_it.size(); ++i) curve.push_back({curve_it[i], curve_loss[i]});
  nlohmann::json record = {{"method", method_name(c.method)},
                           {"ipc", c.ipc},
                           {"init", init_name(c.init)},
                           {"net", {{"name", c.net.name}, {"width", c.net.width}}},
                           {"iterations", c.iterations},
                           {"size", out.set.images.size(0)},
                           {"seconds", out.seconds},
                           {"init_source", init.source},
                           {"init_audit_positions", init.audit_used},
                           {"init_audit_indices", audit_indices},
                           {"loss_curve", curve}};
  if (c.init == Init::ood) record["ood_data"] = c.ood_data;
  write_file_atomic(p.record, record.dump(2) + "\n");
  npy::write(p.groups, std::vector<int64_t>{run.exp.audit.size()}, groups);
  save_synthetic_grid(p.synthetic_png, out.set.images, labels, classes, norm);
  save_synthetic(p.synthetic, out.set,
                 {{"method", method_name(c.method)}, {"ipc", std::to_string(c.ipc)}, {"init", init_name(c.init)},
                  {"shadow", std::to_string(k)}, {"normalization_mean", nlohmann::json(norm.mean).dump()},
                  {"normalization_std", nlohmann::json(norm.std).dump()}});
  std::error_code ec;
  fs::remove(p.checkpoint, ec);
  out.metrics = summary_metrics(record, groups);
  out.metrics["reused"] = false;
  char line[240];
  std::snprintf(line, sizeof line, "%s: distilled %lld images (%s, ipc %lld, init %s) in %s; %lld of %lld IN canaries were initial images",
                name.c_str(), (long long)out.set.images.size(0), method_name(c.method).c_str(), (long long)c.ipc,
                init_name(c.init).c_str(), format_duration(out.seconds).c_str(),
                (long long)out.metrics["in_canaries_init"].get<int64_t>(), (long long)out.metrics["in_canaries"].get<int64_t>());
  log(line);
  return out;
}

}  // namespace sp::distill
