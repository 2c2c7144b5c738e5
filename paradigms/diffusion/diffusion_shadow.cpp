// One diffusion shadow: UNet training, the diffusion-model LiRA statistic, generation, memorisation outputs, and
// the job that trains the audited classifier on the generated set (see diffusion_shadow.h).
#include "paradigms/diffusion/diffusion_shadow.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>

#include "data/atomic_file.h"
#include "data/npy.h"
#include "data/sample_grid.h"
#include "kernels/counter_rng.h"
#include "nn/safetensors.h"
#include "paradigms/audit/audit_summary.h"
#include "paradigms/diffusion/diffusion_config.h"
#include "paradigms/diffusion/generation.h"
#include "paradigms/diffusion/memorization.h"
#include "paradigms/diffusion/unet_trainer.h"
#include "paradigms/engine/shadow_train.h"

namespace fs = std::filesystem;

namespace sp::diffusion {

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

constexpr uint64_t kPurposeDiffusion = 0x444946465553ULL;  // "DIFFUS"
constexpr uint64_t kPurposeGenerate = 0x47454e31ULL;       // "GEN1"
constexpr uint64_t kPurposeLiraQueries = 0x4c495241ULL;    // "LIRA": the experiment's, not the shadow's
constexpr int64_t kLossEvery = 10;                          // steps between loss-curve points

struct Paths {
  std::string dir, checkpoint, unet, scores, chunks, images, labels, source, samples_png, nearest, pairs_png, record;
  explicit Paths(const std::string& d)
      : dir(d),
        checkpoint(d + "/unet_checkpoint.safetensors"),
        unet(d + "/unet.safetensors"),
        scores(d + "/diffusion_scores.npy"),
        chunks(d + "/generated"),
        images(d + "/generated.npy"),
        labels(d + "/generated_labels.npy"),
        source(d + "/generated_source.npy"),
        samples_png(d + "/samples.png"),
        nearest(d + "/nearest.json"),
        pairs_png(d + "/pairs.png"),
        record(d + "/diffusion.json") {}
};

DiffusionConfig resolved(const ExperimentRun& run) {
  DiffusionConfig c = run.cfg.settings<DiffusionConfig>();
  c.unet = unet_config(c, run.cfg, run.data.train.channels(), run.data.train.height());
  c.sample.null_label = c.conditional ? run.cfg.model.num_classes : -1;
  return c;
}

NoiseSchedule schedule_of(const DiffusionConfig& c) { return NoiseSchedule::linear(c.T, c.beta_start, c.beta_end); }

// What a training checkpoint must match to be resumed: the resolved section and the shadow's key.
std::map<std::string, std::string> identity(const ExperimentRun& run, uint64_t key) {
  nlohmann::json section = run.cfg.resolved.value("diffusion", nlohmann::json::object());
  nlohmann::json what = {{"unet", section.value("unet", nlohmann::json())},
                         {"schedule", section.value("schedule", nlohmann::json())},
                         {"train", section.value("train", nlohmann::json())}};
  return {{"diffusion", what.dump()}, {"key", std::to_string(key)}};
}

// The UNet files of a shadow must hold exactly the configured parameters.
void check_unet_file(const std::string& path, const ParamLayout& layout, bool flat_checkpoint) {
  TensorFile h = read_safetensors_header(path);
  if (flat_checkpoint) {
    auto it = h.shapes.find("unet.ema");
    SP_CHECK(it != h.shapes.end(), path, ": no unet.ema (not a diffusion training checkpoint); remove it to start over");
    SP_CHECK(it->second.second.numel() == layout.numel(), path, ": holds a UNet of ", it->second.second.numel(),
             " parameters, diffusion.unet configures ", layout.numel(), "; remove it (or restore the configuration)");
    return;
  }
  for (const ParamSpec& p : layout.specs()) {
    auto it = h.shapes.find(p.name);
    SP_CHECK(it != h.shapes.end(), path, ": no parameter ", p.name,
             " (a UNet of another configuration); remove it (or restore diffusion.unet)");
    SP_CHECK(it->second.second == p.shape, path, ": ", p.name, " has shape ", it->second.second, ", diffusion.unet gives ",
             p.shape, "; remove it (or restore diffusion.unet)");
  }
  SP_CHECK(h.shapes.size() == layout.specs().size(), path, ": ", h.shapes.size(), " tensors, the configured UNet has ",
           layout.specs().size());
}

std::string fmt(const char* format, double v) {
  char b[64];
  std::snprintf(b, sizeof b, format, v);
  return b;
}

std::string chunk_path(const Paths& p, int64_t q) {
  char name[40];
  std::snprintf(name, sizeof name, "/chunk_%05lld.npy", (long long)q);
  return p.chunks + name;
}

Tensor read_u8_images(const std::string& path, int64_t C, int64_t H, int64_t W) {
  npy::Reader r(path);
  SP_CHECK(r.dtype() == DType::u8 && r.shape().size() == 4 && r.shape()[1] == C && r.shape()[2] == H && r.shape()[3] == W,
           path, ": expected u8 [N, ", C, ", ", H, ", ", W, "] images, found ", npy::shape_str(r.shape()));
  Tensor t = Tensor::empty({r.shape()[0], C, H, W}, DType::u8);
  r.read(t.data<uint8_t>(), 0, r.numel());
  return t;
}

class DiffusionShadowJob final : public ShadowJob {
 public:
  DiffusionShadowJob(DeviceData generated, nlohmann::json metrics, nlohmann::json seconds)
      : data_(std::move(generated)), metrics_(std::move(metrics)), seconds_(std::move(seconds)) {}
  int64_t train_size(const DeviceData&) const override { return data_.size(); }
  std::unique_ptr<TrainingSource> source(Trainer& tr, const DeviceData&, uint64_t seed) override {
    return std::make_unique<DatasetSource>(data_, tr.recipe().augment, tr.recipe().augment_cfg, seed);
  }
  void add_metrics(nlohmann::json& m, const TrainState&, double) const override {
    for (auto it = seconds_.begin(); it != seconds_.end(); ++it) m["seconds"][it.key()] = it.value();
    m["train_size"] = data_.size();
    m["diffusion"] = metrics_;
  }

 private:
  DeviceData data_;
  nlohmann::json metrics_, seconds_;
};

// The whole preparation of shadow k; each phase skipped when its output exists.
class ShadowDiffusion {
 public:
  ShadowDiffusion(const ExperimentRun& run, int k, const data::TrainingSet& ts, Stream& s, ProgressPrinter* progress)
      : run_(run),
        k_(k),
        ts_(ts),
        s_(s),
        progress_(progress),
        c_(resolved(run)),
        p_(run.exp.shadow_dir(k)),
        ns_(schedule_of(c_)),
        unet_(models::make_ddpm_unet(c_.unet)),
        key_(crng::derive_key(shadow_seed(run.cfg.seed, k), kPurposeDiffusion)),
        name_("shadow " + std::to_string(k)) {
    line_every_ = progress ? std::max(10.0, progress->update_interval_s()) : 1e30;
    if (fs::exists(p_.record)) record_ = cfg::read_json_object(p_.record);
    if (!record_.contains("seconds") || !record_["seconds"].is_object()) record_["seconds"] = nlohmann::json::object();
  }

  std::unique_ptr<ShadowJob> run() {
    fs::create_directories(p_.dir);
    DeviceData priv = upload_training_set(run_, ts_, name_ + " private set", s_);
    train_unet(priv);
    score_audit_samples();
    DeviceData gen = generate(priv);
    memorization(gen);
    write_record();
    if (c_.mix_real) gen = concat_real(gen, priv);
    nlohmann::json m = record_;
    m.erase("loss_curve");
    nlohmann::json seconds = {{"diffusion_train", record_["seconds"].value("train", 0.0)},
                              {"diffusion_scores", record_["seconds"].value("scores", 0.0)},
                              {"diffusion_generate", record_["seconds"].value("generate", 0.0)},
                              {"diffusion_memorization", record_["seconds"].value("memorization", 0.0)}};
    return std::make_unique<DiffusionShadowJob>(std::move(gen), std::move(m), std::move(seconds));
  }

 private:
  void log(const std::string& text) const {
    if (progress_) progress_->line(text);
  }

  void train_unet(const DeviceData& priv) {
    const ParamLayout& layout = unet_->params();
    if (fs::exists(p_.unet)) {
      check_unet_file(p_.unet, layout, false);
      TensorFile f = load_safetensors(p_.unet);
      ema_ = Tensor::empty({layout.numel()}, DType::f32, s_);
      layout.load(ema_, f.tensors, "", s_);
      log(name_ + ": reusing its trained UNet (" + p_.unet + ")");
      return;
    }
    UNetTrainer tr(*unet_, c_.train, ns_, priv, key_, s_);
    std::vector<int64_t> curve_step;
    std::vector<double> curve_loss;
    double before = 0;
    if (fs::exists(p_.checkpoint)) {
      check_unet_file(p_.checkpoint, layout, true);
      TensorFile f = load_safetensors(p_.checkpoint);
      for (const auto& [kk, v] : identity(run_, key_)) {
        auto it = f.metadata.find(kk);
        SP_CHECK(it != f.metadata.end() && it->second == v, p_.checkpoint, ": made with other diffusion settings (",
                 kk, "); remove the file to start over");
      }
      tr.load_state(f.tensors, p_.checkpoint);
      curve_step = f.at("loss_step").to_vector<int64_t>();
      curve_loss = f.at("loss").to_vector<double>();
      SP_CHECK(curve_step.size() == curve_loss.size(), p_.checkpoint, ": loss curve lengths differ");
      before = std::stod(f.metadata.at("seconds"));
      log(name_ + ": resuming its UNet training after step " + std::to_string(tr.steps_done()) + "/" +
          std::to_string(c_.train.steps));
    } else {
      log(name_ + ": training a " + fmt("%.2f", double(layout.numel()) / 1e6) + " M-parameter DDPM UNet on its " +
          std::to_string(priv.size()) + " private images for " + std::to_string(c_.train.steps) + " steps of " +
          std::to_string(c_.train.batch));
    }
    const auto t0 = Clock::now();
    auto save = [&]() {
      std::map<std::string, Tensor> st = tr.state();
      st["loss_step"] = Tensor::from_vector(curve_step, {int64_t(curve_step.size())});
      st["loss"] = Tensor::from_vector(curve_loss, {int64_t(curve_loss.size())});
      std::map<std::string, std::string> meta = identity(run_, key_);
      meta["seconds"] = fmt("%.17g", before + since(t0));
      save_safetensors(p_.checkpoint, st, meta, s_);
    };
    const int64_t start = tr.steps_done();
    auto last_line = Clock::now(), last_ckpt = Clock::now();
    double window = 0;
    int64_t window_n = 0;
    while (tr.steps_done() < c_.train.steps) {
      const int64_t it = tr.steps_done();
      const double loss = tr.step();
      SP_CHECK(std::isfinite(loss), name_, ": the diffusion loss became ", loss, " at step ", it,
               " (lower diffusion.train.lr or raise diffusion.train.warmup)");
      window += loss, ++window_n;
      if ((it + 1) % kLossEvery == 0 || it + 1 == c_.train.steps) {
        curve_step.push_back(it + 1);
        curve_loss.push_back(window / double(window_n));
        window = 0, window_n = 0;
      }
      if (since(last_line) >= line_every_ || it + 1 == c_.train.steps) {
        const double per = since(t0) / double(it + 1 - start);
        log(name_ + " UNet step " + std::to_string(it + 1) + "/" + std::to_string(c_.train.steps) + "  loss " +
            fmt("%.4f", curve_loss.empty() ? loss : curve_loss.back()) + "  " +
            fmt("%.1f", double(c_.train.batch) / per) + " img/s  ETA " +
            format_duration(per * double(c_.train.steps - it - 1)));
        last_line = Clock::now();
      }
      if (it + 1 < c_.train.steps && since(last_ckpt) >= run_.checkpoint_interval_s) {
        save();
        last_ckpt = Clock::now();
      }
    }
    const double trained = since(t0);
    ema_ = tr.ema().clone(s_);
    nlohmann::json curve = nlohmann::json::array();
    for (size_t i = 0; i < curve_step.size(); ++i) curve.push_back({curve_step[i], curve_loss[i]});
    record_["loss_curve"] = curve;
    record_["final_loss"] = curve_loss.empty() ? nlohmann::json(nullptr) : nlohmann::json(curve_loss.back());
    record_["seconds"]["train"] = before + trained;
    if (trained > 0 && c_.train.steps > start)
      record_["train_images_per_s"] = double((c_.train.steps - start) * c_.train.batch) / trained;
    record_["unet_parameters"] = layout.numel();
    save_safetensors(p_.unet, layout.named(ema_),
                     {{"format", "pt"}, {"shadow", std::to_string(k_)}, {"steps", std::to_string(c_.train.steps)},
                      {"diffusion", run_.cfg.resolved.value("diffusion", nlohmann::json::object()).dump()},
                      {"weights", "ema"}},
                     s_);
    write_record();
    std::error_code ec;
    fs::remove(p_.checkpoint, ec);
  }

  // The audit samples' fixed-query statistic: -log(denoising loss), queries from the experiment's key.
  void score_audit_samples() {
    if (fs::exists(p_.scores)) return;
    const auto t0 = Clock::now();
    const data::AuditSet& audit = run_.exp.audit;
    std::vector<int64_t> labels;
    for (int64_t i : audit.indices) labels.push_back(run_.trained_labels[size_t(i)]);
    if (!c_.conditional) labels.clear();
    Tensor x0 = to_model_space(s_, run_.train.images, audit.indices, {});
    const uint64_t qkey = crng::derive_key(run_.cfg.seed, kPurposeLiraQueries);
    std::vector<std::vector<double>> loss = denoising_losses(s_, *unet_, ema_, ns_, x0, labels, audit.indices,
                                                             c_.lira_timesteps, c_.lira_noises, qkey, c_.sample_batch);
    const int64_t M = int64_t(loss.size()), Q = M ? int64_t(loss[0].size()) : 0;
    std::vector<float> v;
    for (const auto& row : loss)
      for (double l : row) v.push_back(float(-std::log(std::max(l, 1e-30))));
    const int64_t shape[2] = {M, Q};
    npy::write(p_.scores, DType::f32, shape, v.data());
    record_["seconds"]["scores"] = since(t0);
    log(name_ + ": scored its " + std::to_string(M) + " audit samples on " + std::to_string(Q) +
        " fixed denoising queries (" + fmt("%.1f", since(t0)) + " s)");
  }

  DeviceData generate(const DeviceData& priv) {
    const int64_t C = run_.data.train.channels(), H = run_.data.train.height(), W = run_.data.train.width();
    GenerationPlan plan = plan_generation(c_, ts_.labels, run_.cfg.model.num_classes);
    Tensor images;
    if (fs::exists(p_.images) && fs::exists(p_.labels)) {
      images = read_u8_images(p_.images, C, H, W);
      SP_CHECK(images.size(0) == plan.size(), p_.images, ": ", images.size(0), " images, the configuration makes ",
               plan.size(), " (another experiment's file?)");
      log(name_ + ": reusing its " + std::to_string(plan.size()) + " generated images");
      record_["generated"] = plan.size();
    } else {
      const auto t0 = Clock::now();
      fs::create_directories(p_.chunks);
      const int64_t B = c_.sample_batch, chunks = (plan.size() + B - 1) / B;
      std::vector<Tensor> parts;
      int64_t made = 0;
      auto last_line = Clock::now();
      for (int64_t q = 0; q < chunks; ++q) {
        const int64_t lo = q * B, hi = std::min(plan.size(), lo + B);
        const std::string path = chunk_path(p_, q);
        Tensor part;
        if (fs::exists(path)) {
          part = read_u8_images(path, C, H, W);
          SP_CHECK(part.size(0) == hi - lo, path, ": ", part.size(0), " images, expected ", hi - lo);
        } else {
          part = generate_rows(s_, *unet_, ema_, ns_, c_, plan, priv, lo, hi, crng::derive_key(key_ ^ kPurposeGenerate, uint64_t(q)));
          const int64_t shape[4] = {hi - lo, C, H, W};
          npy::write(path, DType::u8, shape, part.data<uint8_t>());
          made += hi - lo;
        }
        parts.push_back(part);
        if (since(last_line) >= line_every_ || q + 1 == chunks) {
          const double per = made ? since(t0) / double(made) : 0;
          log(name_ + " generating (" + mode_name(c_.mode) + ") " + std::to_string(hi) + "/" + std::to_string(plan.size()) +
              (made ? "  " + fmt("%.2f", 1.0 / per) + " img/s  ETA " + format_duration(per * double(plan.size() - hi)) : ""));
          last_line = Clock::now();
        }
      }
      images = Tensor::empty({plan.size(), C, H, W}, DType::u8);
      for (int64_t q = 0, row = 0; q < chunks; ++q) {
        images.narrow(0, row, parts[size_t(q)].size(0)).copy_(parts[size_t(q)]);
        row += parts[size_t(q)].size(0);
      }
      std::vector<int64_t> source;
      for (int64_t pos : plan.source) source.push_back(pos < 0 ? -1 : ts_.indices[size_t(pos)]);
      const int64_t n = plan.size();
      npy::write(p_.labels, DType::i64, std::span<const int64_t>(&n, 1), plan.labels.data());
      npy::write(p_.source, DType::i64, std::span<const int64_t>(&n, 1), source.data());
      const int64_t shape[4] = {n, C, H, W};
      npy::write(p_.images, DType::u8, shape, images.data<uint8_t>());  // last: it marks the generation as done
      std::error_code ec;
      fs::remove_all(p_.chunks, ec);
      const double secs = since(t0);
      record_["seconds"]["generate"] = record_["seconds"].value("generate", 0.0) + secs;
      if (made > 0 && secs > 0) record_["sample_images_per_s"] = double(made) / secs;
      record_["generated"] = n;
    }
    data::Dataset d = data::make_dataset("diffusion shadow " + std::to_string(k_), plan.size(), C, H, W,
                                         run_.data.train.classes);
    d.images = images;
    d.labels = Tensor::from_vector(plan.labels, {plan.size()});
    if (!fs::exists(p_.samples_png)) data::save_sample_grid(p_.samples_png, d, 10, 2);
    return DeviceData::upload(d, s_);
  }

  void memorization(const DeviceData& gen) {
    if (fs::exists(p_.nearest) && record_.contains("memorization")) return;
    const auto t0 = Clock::now();
    const data::AuditSet& audit = run_.exp.audit;
    Tensor audit_images = data::subset(run_.data.train, audit.indices).images;
    Nearest nn = nearest_generated(s_, audit_images, gen.images);
    std::vector<uint8_t> in(audit.indices.size());
    std::vector<double> d_in, d_out, own;
    for (size_t j = 0; j < in.size(); ++j) {
      in[j] = run_.exp.membership.in(k_, int64_t(j)) ? 1 : 0;
      (in[j] ? d_in : d_out).push_back(nn.distance[j]);
    }
    nlohmann::json doc = {{"shadow", k_},
                          {"space", "RMS pixel difference on the [0, 1] scale"},
                          {"audit_indices", audit.indices},
                          {"audit_in", in},
                          {"nearest_generated", nn.index},
                          {"distance", nn.distance}};
    // img2img: how far each IN audit sample's own SDEdit outputs stayed from it.
    if (c_.mode == Mode::img2img) {
      std::vector<int64_t> source = npy::Reader(p_.source).read_integers();
      const Tensor host = gen.images.to(Device::cpu(), s_);
      std::vector<double> own_d(audit.indices.size(), NAN);
      for (size_t j = 0; j < audit.indices.size(); ++j) {
        if (!in[j]) continue;
        std::vector<int64_t> rows;
        for (size_t r = 0; r < source.size(); ++r)
          if (source[r] == audit.indices[j]) rows.push_back(int64_t(r));
        if (rows.empty()) continue;
        Nearest o = nearest_generated(s_, audit_images.narrow(0, int64_t(j), 1).contiguous(), data_rows(host, rows));
        own_d[j] = o.distance[0];
        own.push_back(o.distance[0]);
      }
      nlohmann::json od = nlohmann::json::array();
      for (double v : own_d) od.push_back(std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr));
      doc["own_output_distance"] = od;
    }
    write_file_atomic(p_.nearest, doc.dump() + "\n");
    pair_grid(audit_images, gen, nn, in);
    record_["memorization"] = {{"median_nearest_in", audit::median_json(d_in)}, {"median_nearest_out", audit::median_json(d_out)},
                               {"in", d_in.size()}, {"out", d_out.size()}};
    if (!own.empty()) record_["memorization"]["median_own_output_in"] = audit::median_json(own);
    record_["seconds"]["memorization"] = since(t0);
  }

  static Tensor data_rows(const Tensor& images, const std::vector<int64_t>& rows) {
    Tensor out = Tensor::empty({int64_t(rows.size()), images.size(1), images.size(2), images.size(3)}, DType::u8);
    for (size_t i = 0; i < rows.size(); ++i) out.narrow(0, int64_t(i), 1).copy_(images.narrow(0, rows[i], 1));
    return out;
  }

  void pair_grid(const Tensor& audit_images, const DeviceData& gen, const Nearest& nn, const std::vector<uint8_t>& in) {
    const Tensor host = gen.images.to(Device::cpu(), s_);
    std::vector<Tensor> queries, partners;
    for (uint8_t want : {uint8_t(1), uint8_t(0)}) {
      std::vector<int64_t> q, p;
      for (size_t j = 0; j < in.size() && q.size() < 12; ++j)
        if (in[j] == want) q.push_back(int64_t(j)), p.push_back(nn.index[j]);
      if (q.empty()) continue;
      queries.push_back(data_rows(audit_images, q));
      partners.push_back(data_rows(host, p));
    }
    if (!queries.empty()) write_pair_grid(p_.pairs_png, queries, partners, 2);
  }

  DeviceData concat_real(const DeviceData& gen, const DeviceData& priv) {
    data::Dataset a = data::make_dataset("generated", gen.size(), gen.images.size(1), gen.images.size(2),
                                         gen.images.size(3), run_.data.train.classes);
    a.images = gen.images.to(Device::cpu(), s_);
    a.labels = Tensor::from_vector(gen.host_labels, {gen.size()});
    data::Dataset b = a;
    b.images = priv.images.to(Device::cpu(), s_);
    b.labels = Tensor::from_vector(priv.host_labels, {priv.size()});
    return DeviceData::upload(data::concat({a, b}, "generated + private"), s_);
  }

  void write_record() {
    record_["shadow"] = k_;
    record_["mode"] = mode_name(c_.mode);
    record_["settings"] = run_.cfg.resolved.value("diffusion", nlohmann::json::object());
    write_file_atomic(p_.record, record_.dump() + "\n");
  }

  const ExperimentRun& run_;
  int k_;
  const data::TrainingSet& ts_;
  Stream& s_;
  ProgressPrinter* progress_;
  DiffusionConfig c_;
  Paths p_;
  NoiseSchedule ns_;
  std::unique_ptr<models::Denoiser> unet_;
  uint64_t key_;
  std::string name_;
  double line_every_ = 1e30;
  Tensor ema_;
  nlohmann::json record_ = nlohmann::json::object();
};

}  // namespace

std::string scores_path(const std::string& shadow_dir) { return Paths(shadow_dir).scores; }

std::unique_ptr<ShadowJob> prepare_diffusion_shadow(const ExperimentRun& run, int k, const data::TrainingSet& ts,
                                                    Stream& s, ProgressPrinter* progress) {
  ShadowDiffusion d(run, k, ts, s, progress);
  return d.run();
}

void check_diffusion_experiment(const ExperimentRun& run) {
  const DiffusionConfig c = resolved(run);
  std::unique_ptr<models::Denoiser> unet = models::make_ddpm_unet(c.unet);
  for (int k = 0; k < run.cfg.num_shadows; ++k) {
    const Paths p(run.exp.shadow_dir(k));
    if (fs::exists(p.unet)) check_unet_file(p.unet, unet->params(), false);
    if (fs::exists(p.checkpoint)) check_unet_file(p.checkpoint, unet->params(), true);
  }
}

}  // namespace sp::diffusion
