// One DFKD shadow: synthesis, memory bank, student distillation, Fig. 9 distances (see dfkd_shadow.h).
#include "paradigms/dfkd/dfkd_shadow.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>

#include "data/atomic_file.h"
#include "data/augment.h"
#include "data/sample_grid.h"
#include "kernels/counter_rng.h"
#include "kernels/metrics.h"
#include "kernels/metrics_math.h"
#include "nn/safetensors.h"
#include "paradigms/audit/audit_summary.h"
#include "paradigms/dfkd/logit_distance.h"
#include "paradigms/dfkd/memory_bank.h"
#include "paradigms/dfkd/synthesizer.h"
#include "paradigms/dfkd/teacher.h"
#include "paradigms/engine/experiment_run.h"
#include "paradigms/engine/loss.h"
#include "paradigms/engine/model_file.h"
#include "paradigms/engine/progress.h"

namespace fs = std::filesystem;

namespace sp::dfkd {

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// Checkpoint keys of the job's own state.
const std::string kSynth = "dfkd.synth.";
const std::string kBestTheta = "dfkd.best_theta", kBestBuffers = "dfkd.best_buffers", kScalars = "dfkd.scalars";

// Eval-mode logits of a frozen model for model inputs x (no tape recorded).
Tensor frozen_logits(Stream& s, const FrozenModel& m, const Tensor& x) {
  Tape t(s);
  t.set_recording(false);
  return t.value(m.model->forward(t, t.leaf(m.theta), m.buffers, t.leaf(x), false));
}

std::vector<int64_t> argmax_rows(Stream& s, const Tensor& logits) {
  std::vector<float> v = logits.to(DType::f32, s).to_vector<float>(s);
  const int64_t n = logits.size(0), K = logits.size(1);
  std::vector<int64_t> out(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) out[size_t(i)] = row_argmax(&v[size_t(i * K)], K);
  return out;
}

class DfkdShadowJob final : public ShadowJob {
 public:
  DfkdShadowJob(const ExperimentRun& run, int k, const DfkdConfig& c, const data::TrainingSet& ts, Teacher teacher,
                Stream& s)
      : run_(run),
        k_(k),
        c_(c),
        s_(s),
        teacher_(std::move(teacher)),
        frozen_teacher_{teacher_.model.get(), teacher_.theta, teacher_.buffers},
        kd_([this](const Tensor& x) { return frozen_logits(s_, frozen_teacher_, x); }, c.temperature),
        tape_(s),
        private_(ts.indices) {
    norm_ = run.cfg.recipe.augment_cfg.norm;
    dir_ = run.exp.shadow_dir(k);
  }

  // Nominal: the student's schedule is per epoch (student_lr), never from the recipe's step counts.
  int64_t train_size(const DeviceData&) const override { return c_.synthesis.batch; }

  void start(Trainer& tr, const DeviceData&, const std::string& name, const Log& log) override {
    name_ = name;
    log_ = log;
    const data::Dataset& train = run_.data.train;
    Shape image{train.channels(), train.height(), train.width()};
    synth_ = std::make_unique<Synthesizer>(c_, frozen_teacher_, run_.cfg.model.num_classes, image, norm_, s_,
                                           crng::derive_key(shadow_seed(run_.cfg.seed, k_), 0xDF));
    bank_ = std::make_unique<MemoryBank>(dir_ + "/bank", int64_t(tr.recipe().epochs) * c_.synthesis.batch, image, s_);
    best_theta_ = tr.theta().clone(s_);
    best_buffers_ = tr.buffers().clone(s_);
    char line[300];
    std::snprintf(line, sizeof line,
                  "%s: DFKD (%s) from teacher %s (test acc %.2f%%%s); %lld warm-up epochs of synthesis, then the "
                  "student %s trains on the bank",
                  name.c_str(), method_name(c_.method).c_str(), teacher_.path.c_str(),
                  100 * teacher_.metrics.value("test_accuracy", 0.0), teacher_.train_seconds > 0 ? ", trained now" : "",
                  (long long)c_.warmup, run_.cfg.model.name.c_str());
    log(line);
  }

  EpochStats train_epoch(Trainer& tr, TrainingSource&, int epoch, const std::function<void(const TrainProgress&)>& progress,
                         double interval_s) override {
    auto t0 = Clock::now();
    SynthesisResult syn = synth_->synthesize(epoch, FrozenModel{&tr.model(), tr.theta(), tr.buffers()});
    bank_->put(epoch, syn.images, teacher_labels(syn.images.to(s_.device(), s_)));
    const double synth_s = since(t0);
    seconds_synthesis_ += synth_s;
    char line[200];
    std::snprintf(line, sizeof line, "%s synthesis epoch %d: loss %.4f (BN statistics %.4f), bank %lld images",
                  name_.c_str(), epoch + 1, syn.best_loss, syn.bn_loss, (long long)bank_->size());
    if (log_) log_(line);

    auto t1 = Clock::now();
    const bool student = epoch >= c_.warmup;
    EpochStats es = student ? train_student(tr, epoch, progress, interval_s) : tr.run_epoch(epoch, 0, {}, progress, interval_s);
    seconds_student_ += since(t1);
    if (student && c_.keep_best) {
      auto t2 = Clock::now();
      const double acc = tr.evaluate(run_.test, run_.cfg.eval_batch);
      if (acc > best_acc_) {
        best_acc_ = acc;
        best_epoch_ = epoch;
        best_theta_.copy_(tr.theta(), s_);
        best_buffers_.copy_(tr.buffers(), s_);
      }
      last_acc_ = acc;
      seconds_selection_ += since(t2);
    }
    es.seconds = since(t0);
    return es;
  }

  std::map<std::string, Tensor> checkpoint_state() const override {
    std::map<std::string, Tensor> st = synth_->state(kSynth);
    st[kBestTheta] = best_theta_;
    st[kBestBuffers] = best_buffers_;
    st[kScalars] = Tensor::from_vector<double>({best_acc_, double(best_epoch_), seconds_synthesis_, seconds_student_,
                                                seconds_selection_, double(bank_->batches()), last_acc_,
                                                double(student_images_)},
                                               {8});
    return st;
  }

  void load_checkpoint_state(const std::string& path) override {
    TensorFile f = load_safetensors(path);
    synth_->load_state(f.tensors, kSynth);
    auto get = [&](const std::string& key) -> const Tensor& {
      SP_CHECK(f.tensors.count(key), path, ": no ", key, " (not a DFKD checkpoint)");
      return f.tensors.at(key);
    };
    best_theta_.copy_(get(kBestTheta).to(s_.device(), s_), s_);
    best_buffers_.copy_(get(kBestBuffers).to(s_.device(), s_), s_);
    std::vector<double> v = get(kScalars).to(DType::f64).to_vector<double>();
    SP_CHECK(v.size() == 8, path, ": ", kScalars, " holds ", v.size(), " values, expected 8");
    best_acc_ = v[0], best_epoch_ = int(v[1]), seconds_synthesis_ = v[2], seconds_student_ = v[3];
    seconds_selection_ = v[4], last_acc_ = v[6], student_images_ = int64_t(v[7]);
    bank_->load(int(v[5]), [&](const Tensor& images) { return teacher_labels(images); });
  }

  void finish_training(Trainer& tr) override {
    if (c_.keep_best && best_epoch_ >= 0) {
      tr.theta().copy_(best_theta_, s_);
      tr.buffers().copy_(best_buffers_, s_);
    }
    auto t0 = Clock::now();
    save_safetensors(dir_ + "/generator.safetensors", synth_->generator().params().named(synth_->generator_theta()),
                     {{"format", "pt"},
                      {"shadow", std::to_string(k_)},
                      {"latent", std::to_string(c_.latent)},
                      {"width", std::to_string(c_.width)},
                      {"method", method_name(c_.method)}},
                     s_);
    write_bank_grid();
    write_distances();
    seconds_outputs_ = since(t0);
  }

  void add_metrics(nlohmann::json& m, const TrainState&, double) const override {
    const double student_images = double(student_images_);
    m["seconds"]["teacher"] = teacher_.train_seconds;
    m["seconds"]["synthesis"] = seconds_synthesis_;
    m["seconds"]["train"] = seconds_student_;
    m["seconds"]["select_best"] = seconds_selection_;
    m["seconds"]["dfkd_outputs"] = seconds_outputs_;
    if (seconds_student_ > 0 && student_images > 0) m["images_per_s"] = student_images / seconds_student_;
    m["train_size"] = bank_->size();
    m["dfkd"] = {{"method", method_name(c_.method)},
                 {"teacher", teacher_.path},
                 {"teacher_test_accuracy", teacher_.metrics.value("test_accuracy", 0.0)},
                 {"teacher_seconds_trained_now", teacher_.train_seconds},
                 {"bank_images", bank_->size()},
                 {"best_epoch", best_epoch_ + 1},
                 {"best_test_accuracy", best_acc_ >= 0 ? nlohmann::json(best_acc_) : nlohmann::json(nullptr)},
                 {"last_epoch_test_accuracy", last_acc_ >= 0 ? nlohmann::json(last_acc_) : nlohmann::json(nullptr)},
                 {"selected_on_test_data", c_.keep_best},
                 {"seconds", {{"teacher", teacher_.train_seconds}, {"synthesis", seconds_synthesis_}, {"student", seconds_student_}}},
                 {"distances", distances_}};
  }

 private:
  std::vector<int64_t> teacher_labels(const Tensor& images_dev) {
    const int64_t n = images_dev.size(0);
    std::vector<int64_t> ids(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) ids[size_t(i)] = i;
    Tensor idv = Tensor::from_vector(ids, {n}).to(s_.device(), s_);
    return argmax_rows(s_, frozen_logits(s_, frozen_teacher_, data::normalize_batch(s_, images_dev, idv, norm_)));
  }

  // The student's steps of one epoch: `passes` shuffled passes over the bank (or kd_steps batches cycling
  // through passes), each batch crop+flip augmented as the recipe says.
  EpochStats train_student(Trainer& tr, int epoch, const std::function<void(const TrainProgress&)>& progress,
                           double interval_s) {
    const DeviceData& bank = bank_->data();
    const int64_t n = bank.size(), B = tr.recipe().batch_size, spp = (n + B - 1) / B;
    const int64_t steps = c_.kd_steps > 0 ? c_.kd_steps : c_.student_passes * spp;
    const double lr = student_lr(c_, tr.recipe().schedule.base_lr, epoch);
    const uint64_t seed = shadow_seed(run_.cfg.seed, k_);
    DatasetSource src(bank, tr.recipe().augment, tr.recipe().augment_cfg, seed);
    Optimizer& opt = tr.optimizer();
    return tr.run_epoch(
        epoch, steps,
        [&](int64_t j, const Tensor& acc) {
          const int64_t pass = j / spp, q = j % spp;
          const int order = int(epoch * 100003 + pass);  // a distinct shuffle and augmentation per pass
          if (q == 0) src.begin_epoch(s_, order);
          const int64_t lo = q * B, hi = std::min(n, lo + B);
          Batch b = src.batch(s_, order, lo, hi);
          tape_.clear();
          Var th = tape_.leaf(tr.theta(), true);
          Var logits = tr.model().forward(tape_, th, tr.buffers(), tape_.leaf(b.x), true);
          Var loss = kd_.compute(tape_, logits, b);  // the teacher's logits of the same augmented batch
          Tensor g = tape_.grad(loss, {th})[0];
          accumulate_metrics(s_, acc, tape_.value(loss), tape_.value(logits), b.labels);
          opt.step(s_, tr.theta(), g, lr);
          student_images_ += hi - lo;
          return hi - lo;
        },
        progress, interval_s);
  }

  void write_bank_grid() {
    data::Dataset d = data::make_dataset("dfkd bank", bank_->size(), run_.data.train.channels(), run_.data.train.height(),
                                         run_.data.train.width(), run_.data.train.classes);
    d.images = bank_->host();
    d.labels = Tensor::from_vector(bank_->data().host_labels, {bank_->size()});
    data::save_sample_grid(dir_ + "/bank.png", d, 10, 2);
  }

  // Paper Fig. 9: teacher-logit distance of every audit sample and of clean training images of D_k to the
  // nearest generated image.
  void write_distances() {
    const int64_t K = run_.cfg.model.num_classes, batch = std::max<int64_t>(1, run_.cfg.eval_batch);
    auto logits_of = [&](const Tensor& images, const std::vector<int64_t>& ids) {
      std::vector<float> out;
      for (size_t lo = 0; lo < ids.size(); lo += size_t(batch)) {
        const size_t hi = std::min(ids.size(), lo + size_t(batch));
        std::vector<int64_t> part(ids.begin() + long(lo), ids.begin() + long(hi));
        Tensor idv = Tensor::from_vector(part, {int64_t(part.size())}).to(s_.device(), s_);
        std::vector<float> z =
            frozen_logits(s_, frozen_teacher_, data::normalize_batch(s_, images, idv, norm_)).to(DType::f32, s_).to_vector<float>(s_);
        out.insert(out.end(), z.begin(), z.end());
      }
      return out;
    };
    std::vector<int64_t> bank_ids(static_cast<size_t>(bank_->size()));
    for (size_t i = 0; i < bank_ids.size(); ++i) bank_ids[i] = int64_t(i);
    const std::vector<float> bank = logits_of(bank_->data().images, bank_ids);

    const data::AuditSet& audit = run_.exp.audit;
    std::vector<double> audit_d = nearest_distances(logits_of(run_.train.images, audit.indices), bank, K);
    std::vector<uint8_t> in(audit_d.size());
    std::vector<double> d_in, d_out;
    for (size_t j = 0; j < audit_d.size(); ++j) {
      in[j] = run_.exp.membership.in(k_, int64_t(j)) ? 1 : 0;
      (in[j] ? d_in : d_out).push_back(audit_d[j]);
    }
    // Clean images: a seeded sample of D_k's non-audit members.
    std::vector<int64_t> clean;
    std::vector<uint8_t> is_audit(static_cast<size_t>(run_.train.size()), 0);
    for (int64_t i : audit.indices) is_audit[size_t(i)] = 1;
    for (int64_t i : private_)
      if (!is_audit[size_t(i)]) clean.push_back(i);
    crng::Stream32 r(crng::derive_key(shadow_seed(run_.cfg.seed, k_), 0xC1EA), 0);
    for (size_t i = clean.size(); i > 1; --i) std::swap(clean[i - 1], clean[r.below(uint32_t(i))]);
    clean.resize(std::min(clean.size(), size_t(c_.clean_samples)));
    std::sort(clean.begin(), clean.end());
    std::vector<double> clean_d = clean.empty() ? std::vector<double>{} : nearest_distances(logits_of(run_.train.images, clean), bank, K);

    nlohmann::json doc = {{"shadow", k_},
                          {"bank_images", bank_->size()},
                          {"space", "teacher logits (eval mode, un-augmented images), Euclidean distance"},
                          {"audit_indices", audit.indices},
                          {"audit_in", in},
                          {"audit_distance", audit_d},
                          {"clean_indices", clean},
                          {"clean_distance", clean_d}};
    write_file_atomic(dir_ + "/logit_distances.json", doc.dump() + "\n");
    distances_ = {{"median_in_canaries", audit::median_json(d_in)}, {"median_out_canaries", audit::median_json(d_out)}, {"median_clean", audit::median_json(clean_d)},
                  {"in_canaries", d_in.size()}, {"out_canaries", d_out.size()}, {"clean", clean_d.size()}};
  }

  const ExperimentRun& run_;
  int k_;
  DfkdConfig c_;
  Stream& s_;
  Teacher teacher_;
  FrozenModel frozen_teacher_;
  Distillation kd_;  // T^2 KL(teacher || student) at the configured temperature (paradigms/engine/loss.h)
  Tape tape_;
  std::vector<int64_t> private_;
  data::Normalization norm_;
  std::string dir_, name_;
  Log log_;
  std::unique_ptr<Synthesizer> synth_;
  std::unique_ptr<MemoryBank> bank_;
  Tensor best_theta_, best_buffers_;
  double best_acc_ = -1, last_acc_ = -1;
  int best_epoch_ = -1;
  double seconds_synthesis_ = 0, seconds_student_ = 0, seconds_selection_ = 0, seconds_outputs_ = 0;
  int64_t student_images_ = 0;
  nlohmann::json distances_ = nlohmann::json::object();
};

}  // namespace

double student_lr(const DfkdConfig& c, double base_lr, int epoch) {
  const double t = double(epoch - c.warmup);
  return c.eta_min + (base_lr - c.eta_min) * (1 + std::cos(M_PI * t / double(c.cosine_t_max))) / 2;
}

std::unique_ptr<ShadowJob> prepare_dfkd_shadow(const ExperimentRun& run, int k, const DfkdConfig& c,
                                               const data::TrainingSet& ts, Stream& s, ProgressPrinter* progress) {
  Teacher t = obtain_teacher(run, c, k, s, progress);
  return std::make_unique<DfkdShadowJob>(run, k, c, ts, std::move(t), s);
}

}  // namespace sp::dfkd
