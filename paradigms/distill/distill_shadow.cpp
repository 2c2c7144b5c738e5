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
#include "paradigms/distill/experts.h"
#include "paradigms/distill/trajectory_distiller.h"
#include "paradigms/distill/trajectory_setup.h"
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
  std::string dir, checkpoint, init_png, record, groups, synthetic_png, pair_png, synthetic, zca;
  explicit Paths(const std::string& d)
      : dir(d),
        checkpoint(d + "/distill_checkpoint.safetensors"),
        init_png(d + "/init.png"),
        record(d + "/distill.json"),
        groups(d + "/groups.npy"),
        synthetic_png(d + "/synthetic.png"),
        pair_png(d + "/init_vs_synthetic.png"),
        synthetic(d + "/synthetic.safetensors"),
        zca(d + "/zca.safetensors") {}
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
  char lr[64];
  std::snprintf(lr, sizeof lr, "%.17g", c.lr_img);
  std::map<std::string, std::string> m = {{"method", method_name(c.method)}, {"ipc", std::to_string(c.ipc)},
                                          {"init", init_name(c.init)}, {"iterations", std::to_string(c.iterations)},
                                          {"key", std::to_string(key)}, {"lr_img", lr}};
  if (c.matches_trajectories()) {
    m["syn_steps"] = std::to_string(c.syn_steps);
    m["expert_epochs"] = std::to_string(c.expert_epochs);
    m["start_window"] = std::to_string(c.min_start_epoch) + "-" + std::to_string(c.max_start_epoch);
    m["batch_syn"] = std::to_string(c.batch_syn);
    m["zca"] = c.zca ? "on" : "off";
  }
  return m;
}

std::string fmt(const char* format, double v) {
  char b[64];
  std::snprintf(b, sizeof b, format, v);
  return b;
}

std::string format_bytes(int64_t n) {
  const double v = double(n);
  if (v >= 1024.0 * 1024 * 1024) return fmt("%.2f GiB", v / (1024.0 * 1024 * 1024));
  if (v >= 1024.0 * 1024) return fmt("%.1f MiB", v / (1024.0 * 1024));
  return fmt("%.1f KiB", v / 1024.0);
}

constexpr uint64_t kPurposeExperts = 0x4558504552545331ULL;  // "EXPERTS1"

uint64_t distill_key(const ExperimentRun& run, int k) { return crng::derive_key(shadow_seed(run.cfg.seed, k), kPurposeDistill); }

ExpertContext expert_context(const ExperimentRun& run, const DistillConfig& c, int k, const data::TrainingSet& ts) {
  ExpertContext ctx;
  ctx.cfg = &c;
  ctx.shadow_dir = run.exp.shadow_dir(k);
  ctx.shadow = k;
  ctx.zca_digest = "none";
  ctx.private_digest = private_set_digest(ts);
  ctx.key = crng::derive_key(distill_key(run, k), kPurposeExperts);
  ctx.params = make_model(c.net)->params().numel();
  return ctx;
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
  for (const char* k : {"syn_lr", "expert_seconds", "experts", "threshold_skipped_iterations", "meta_gradient",
                        "zca", "unmatched_soft_labels", "experts_scanned_for_init"})
    if (record.contains(k)) m[k] = record[k];
  return m;
}

}  // namespace

void check_distill_experiment(const ExperimentRun& run) {
  const DistillConfig c = resolved(run);
  if (c.init == Init::ood) load_ood_set(c.ood_data, run.data.train, c.ipc);
  for (int k = 0; k < run.cfg.num_shadows; ++k) {
    if (c.init != Init::real && !c.matches_trajectories()) break;
    const data::TrainingSet ts = data::private_training_set(run.train_labels, run.exp.audit, run.exp.membership, k);
    if (c.init == Init::real || c.init == Init::samples_predicted_correctly)
      check_real_init(ts, run.cfg.model.num_classes, c.ipc, k);
    if (!c.matches_trajectories()) continue;
    // Files a previous run left: the ZCA fit and the experts must be this shadow's, with these settings.
    const Paths p(run.exp.shadow_dir(k));
    if (fs::exists(p.synthetic)) continue;  // distilled already; the experts are no longer read
    ExpertContext ctx = expert_context(run, c, k, ts);
    if (c.zca && fs::exists(p.zca)) {
      TensorFile h = read_safetensors_header(p.zca);
      auto it = h.metadata.find("private_set");
      SP_CHECK(it != h.metadata.end() && it->second == ctx.private_digest, p.zca,
               ": fitted on another private set (another shadow or experiment); remove it (and experts/) to fit again");
      auto d = h.metadata.find("digest");
      SP_CHECK(d != h.metadata.end(), p.zca, ": no digest in its metadata (not a ZCA file?)");
      ctx.zca_digest = d->second;
    } else if (c.zca) {
      SP_CHECK(!fs::exists(expert_path(p.dir, 0)), expert_path(p.dir, 0), ": expert trajectories without the ZCA fit (",
               p.zca, ") they were trained in; remove experts/ to train them again");
      continue;
    }
    check_expert_files(ctx);
  }
}

namespace {

// Trajectory matching's preparation (trajectory_setup.h): the input space, D_k in it, the experts, the
// initial images in the input space and DATM's label logits.
struct TrajectoryPrep {
  InputSpace space;
  std::vector<Tensor> experts;
  InitialImages init;  // images in the input space
  Tensor label_logits;
  nlohmann::json record = nlohmann::json::object();
};

TrajectoryPrep prepare_trajectories(const ExperimentRun& run, const DistillConfig& c, int k, const data::TrainingSet& ts,
                                    const DeviceData& d, const data::Dataset* ood, uint64_t key, Stream& s,
                                    const std::function<void(const std::string&)>& log, double line_every) {
  const Paths p(run.exp.shadow_dir(k));
  const int64_t classes = run.cfg.model.num_classes;
  TrajectoryPrep out;
  out.space.norm = run.cfg.recipe.augment_cfg.norm;
  ExpertContext ctx = expert_context(run, c, k, ts);
  const auto t0 = Clock::now();
  std::vector<int64_t> all(size_t(d.size()));
  for (int64_t i = 0; i < d.size(); ++i) all[size_t(i)] = i;
  Tensor x;
  if (c.zca) {
    const int64_t C = run.data.train.channels();
    ClassPool pixels(d, classes, data::Normalization{std::vector<double>(size_t(C), 0.0), std::vector<double>(size_t(C), 1.0)});
    Tensor x01 = pixels.images(s, all);
    const bool had = fs::exists(p.zca);
    Zca z = shadow_zca(p.zca, x01.to(Device::cpu(), s), c.zca_eps, ctx.private_digest);
    ctx.zca_digest = z.digest;
    log("shadow " + std::to_string(k) + ": " + (had ? "reusing its" : "fitted the") + " ZCA whitening of its " +
        std::to_string(d.size()) + " private images (eps " + fmt("%g", c.zca_eps) + ")");
    out.space.zca = z.to(s.device(), s);
    x = out.space.zca->apply(s, x01);
  } else {
    ClassPool normed(d, classes, out.space.norm);
    x = normed.images(s, all);
  }
  const std::vector<int64_t> labels = ts.labels;
  Tensor y = Tensor::from_vector(labels, {int64_t(labels.size())}).to(s.device(), s);
  const int64_t per_expert = expert_bytes(c, ctx.params);
  log("shadow " + std::to_string(k) + ": " + std::to_string(c.experts.count) + " expert trajectories of " +
      std::to_string(c.experts.epochs) + " epochs, " + format_bytes(per_expert) + " each, " +
      format_bytes(per_expert * c.experts.count) + " for this shadow (" + p.dir + "/experts)");
  train_experts(ctx, x, y, s, log, line_every);
  out.experts = load_experts(ctx);
  out.record["expert_seconds"] = since(t0);
  out.record["experts"] = {{"count", c.experts.count}, {"epochs", c.experts.epochs}, {"bytes", per_expert * c.experts.count},
                           {"optimizer", c.experts.gsam ? "gsam" : "sgd"}};
  out.record["zca"] = c.zca ? nlohmann::json(ctx.zca_digest) : nlohmann::json(nullptr);

  if (c.init == Init::samples_predicted_correctly) {
    int64_t scanned = 0;
    std::vector<int64_t> pos = samples_predicted_correctly(c, out.experts, x, labels, classes, key, s, &scanned);
    out.record["experts_scanned_for_init"] = scanned;
    const int64_t n = int64_t(pos.size());
    out.init.images = Tensor::empty({n, x.size(1), x.size(2), x.size(3)}, DType::f32, s);
    for (int64_t r = 0; r < n; ++r) {
      out.init.images.narrow(0, r, 1).copy_(x.narrow(0, pos[size_t(r)], 1), s);
      out.init.source.push_back(ts.indices[size_t(pos[size_t(r)])]);
    }
    for (int64_t j = 0; j < run.exp.audit.size(); ++j)
      if (std::find(out.init.source.begin(), out.init.source.end(), run.exp.audit.indices[size_t(j)]) != out.init.source.end())
        out.init.audit_used.push_back(j);
  } else {
    out.init = initial_images(c, run.data.train, ts, run.exp.audit, ood, classes, out.space.norm, key);
    Tensor im = out.init.images.to(s.device(), s);
    // Noise is drawn in the input space itself; real and OOD images are mapped into it.
    out.init.images = c.init == Init::noise ? im : out.space.from_normalized(s, im);
  }
  if (c.soft_labels) {
    std::vector<int64_t> rows_labels;
    for (int64_t cls = 0; cls < classes; ++cls) rows_labels.insert(rows_labels.end(), size_t(c.ipc), cls);
    int64_t unmatched = 0;
    out.label_logits = initial_label_logits(c, out.experts, out.init.images, rows_labels, classes,
                                            c.init == Init::samples_predicted_correctly, s, &unmatched);
    out.record["unmatched_soft_labels"] = unmatched;
  }
  return out;
}

}  // namespace

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
  const double line_every = progress ? std::max(10.0, progress->update_interval_s()) : 1e30;
  const bool tm = c.matches_trajectories();
  ShadowDistillation out;
  if (fs::exists(p.synthetic)) {
    out.set = load_synthetic(p.synthetic, classes, C, H, W);
    SP_CHECK(out.set.images.size(0) == classes * c.ipc, p.synthetic, ": ", out.set.images.size(0), " images, but ipc ",
             c.ipc, " x ", classes, " classes were configured (another experiment's file?)");
    SP_CHECK(out.set.soft.defined() == c.soft_labels, p.synthetic, ": ", out.set.soft.defined() ? "has" : "lacks",
             " soft labels, the configuration ", c.soft_labels ? "learns" : "has", " none (another experiment's file?)");
    nlohmann::json record = cfg::read_json_object(p.record);
    npy::Reader r(p.groups);
    out.metrics = summary_metrics(record, r.read_integers());
    out.seconds = record.value("seconds", 0.0);
    if (record.contains("init_source") && record["init_source"].is_array())
      for (const auto& v : record["init_source"]) out.init_source.push_back(v.is_number_integer() ? v.get<int64_t>() : -1);
    if (tm) {
      SP_CHECK(record.contains("syn_lr") && record["syn_lr"].is_number(), p.record, ": no learned step size (syn_lr)");
      out.syn_lr = record["syn_lr"].get<double>();
      if (c.zca) {
        out.zca = load_zca(p.zca, C * H * W);
        SP_CHECK(record.contains("zca") && record["zca"].is_string() && record["zca"].get<std::string>() == out.zca->digest,
                 p.zca, ": not the ZCA fit ", p.record, " was distilled in");
      }
      SP_CHECK(std::isfinite(out.syn_lr) && out.syn_lr > 0, p.record, ": the learned step size ", out.syn_lr,
               " is not positive");
    }
    out.reused = true;
    out.metrics["reused"] = true;
    log(name + ": reusing its distilled set (synthetic.safetensors, " + std::to_string(out.set.images.size(0)) + " images)");
    return out;
  }

  const auto t0 = Clock::now();
  check_real_init(ts, classes, c.init == Init::real || c.init == Init::samples_predicted_correctly ? c.ipc : 0, k);
  const uint64_t key = distill_key(run, k);
  data::Dataset ood;
  if (c.init == Init::ood) ood = load_ood_set(c.ood_data, run.data.train, c.ipc);
  fs::create_directories(run.exp.shadow_dir(k));
  DeviceData d = upload_training_set(run, ts, name + " private set", s);

  std::optional<TrajectoryPrep> prep;
  InitialImages init;
  InputSpace space;
  space.norm = norm;
  if (tm) {
    prep = prepare_trajectories(run, c, k, ts, d, c.init == Init::ood ? &ood : nullptr, key, s, log, line_every);
    init = prep->init;
    space = prep->space;
  } else {
    init = initial_images(c, run.data.train, ts, run.exp.audit, c.init == Init::ood ? &ood : nullptr, classes, norm, key);
  }
  std::vector<int64_t> audit_indices;
  for (int64_t j : init.audit_used) audit_indices.push_back(run.exp.audit.indices[size_t(j)]);
  std::vector<int64_t> groups = shadow_groups(run.exp.audit, run.exp.membership, k, audit_indices, "initial images");
  std::vector<int64_t> labels;
  for (int64_t y = 0; y < classes; ++y) labels.insert(labels.end(), size_t(c.ipc), y);
  std::vector<bool> framed(init.source.size(), false);
  {
    if (c.init == Init::real || c.init == Init::samples_predicted_correctly)
      for (size_t i = 0; i < init.source.size(); ++i)
        framed[i] = std::binary_search(run.exp.audit.indices.begin(), run.exp.audit.indices.end(), init.source[i]);
    save_synthetic_grid(p.init_png, space.to_normalized(s, init.images.to(s.device(), s)), labels, classes, norm, framed,
                        2, s);
  }

  ClassPool pool(d, classes, norm);
  std::unique_ptr<SetDistiller> dist;
  if (tm)
    dist = std::make_unique<TrajectoryDistiller>(c, classes, init.images.to(s.device(), s), prep->label_logits,
                                                 prep->experts, key, s);
  else
    dist = std::make_unique<Distiller>(c, pool, init.images.to(s.device(), s), key, s);
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
    dist->load_state(f.tensors, p.checkpoint);
    curve_it = f.at("loss_iteration").to_vector<int64_t>();
    curve_loss = f.at("loss").to_vector<double>();
    SP_CHECK(curve_it.size() == curve_loss.size(), p.checkpoint, ": loss curve lengths differ");
    seconds_before = std::stod(f.metadata.at("seconds"));
    log(name + ": resuming its distillation after iteration " + std::to_string(dist->iteration()) + "/" +
        std::to_string(c.iterations));
  }
  auto save_checkpoint = [&]() {
    std::map<std::string, Tensor> st = dist->state();
    st["loss_iteration"] = Tensor::from_vector(curve_it, {int64_t(curve_it.size())});
    st["loss"] = Tensor::from_vector(curve_loss, {int64_t(curve_loss.size())});
    std::map<std::string, std::string> meta = identity(c, key);
    char secs[64];
    std::snprintf(secs, sizeof secs, "%.17g", seconds_before + since(t0));
    meta["seconds"] = secs;
    save_safetensors(p.checkpoint, st, meta, s);
  };

  const auto t_loop = Clock::now();
  const int64_t start = dist->iteration();
  auto last_line = Clock::now(), last_checkpoint = Clock::now();
  while (dist->iteration() < c.iterations) {
    const int64_t it = dist->iteration();
    const double loss = dist->step();
    SP_CHECK(std::isfinite(loss), name, ": the distillation loss became ", loss, " at iteration ", it,
             " (lower distill.lr_img", tm ? " or distill.lr_lr" : "", ")");
    if (it % c.loss_every == 0 || it + 1 == c.iterations) curve_it.push_back(it), curve_loss.push_back(loss);
    if (since(last_line) >= line_every || it + 1 == c.iterations) {
      const double per = since(t_loop) / double(it + 1 - start);
      char line[240];
      std::snprintf(line, sizeof line, "%s distill %s iteration %lld/%lld  loss %.4g%s  %.2f s/it  ETA %s", name.c_str(),
                    method_name(c.method).c_str(), (long long)(it + 1), (long long)c.iterations, loss,
                    tm ? ("  syn_lr " + fmt("%.4g", dist->learned_lr())).c_str() : "", per,
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
  out.set.images = dist->images().to(Device::cpu(), s).contiguous();
  out.set.labels = Tensor::from_vector(labels, {int64_t(labels.size())});
  out.set.soft = dist->soft_labels();
  out.syn_lr = dist->learned_lr();
  if (tm)
    SP_CHECK(std::isfinite(out.syn_lr) && out.syn_lr > 0, name, ": the learned step size became ", out.syn_lr,
             " after ", c.iterations, " iterations; the audited model cannot train with it (lower distill.lr_lr)");
  if (space.zca) out.zca = space.zca->to(Device::cpu(), s);
  out.init_source = init.source;
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
  if (prep) record.update(prep->record);
  record.update(dist->record());
  write_file_atomic(p.record, record.dump(2) + "\n");
  npy::write(p.groups, std::vector<int64_t>{run.exp.audit.size()}, groups);
  save_synthetic_grid(p.synthetic_png, space.to_normalized(s, dist->images()), labels, classes, norm, {}, 2, s);
  {
    // Row c: class c's initial images, then what they became.
    Tensor before = space.to_normalized(s, init.images.to(s.device(), s)), after = space.to_normalized(s, dist->images());
    Tensor both = Tensor::empty({2 * classes * c.ipc, C, H, W}, DType::f32, s);
    std::vector<int64_t> both_labels;
    std::vector<bool> both_framed;
    for (int64_t cls = 0; cls < classes; ++cls) {
      both.narrow(0, 2 * cls * c.ipc, c.ipc).copy_(before.narrow(0, cls * c.ipc, c.ipc), s);
      both.narrow(0, (2 * cls + 1) * c.ipc, c.ipc).copy_(after.narrow(0, cls * c.ipc, c.ipc), s);
      both_labels.insert(both_labels.end(), size_t(2 * c.ipc), cls);
      for (int64_t j = 0; j < c.ipc; ++j) both_framed.push_back(framed[size_t(cls * c.ipc + j)]);
      both_framed.insert(both_framed.end(), size_t(c.ipc), false);
    }
    save_synthetic_grid(p.pair_png, both, both_labels, classes, norm, both_framed, 2, s);
  }
  std::map<std::string, std::string> meta = {{"method", method_name(c.method)}, {"ipc", std::to_string(c.ipc)},
                                             {"init", init_name(c.init)}, {"shadow", std::to_string(k)},
                                             {"normalization_mean", nlohmann::json(norm.mean).dump()},
                                             {"normalization_std", nlohmann::json(norm.std).dump()}};
  if (tm) meta["syn_lr"] = fmt("%.17g", out.syn_lr);
  if (space.zca) meta["input_space"] = "zca " + space.zca->digest + " (zca.safetensors)";
  save_synthetic(p.synthetic, out.set, meta);
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
