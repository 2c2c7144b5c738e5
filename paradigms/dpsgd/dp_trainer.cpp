// DP-SGD training steps and epochs (see dp_trainer.h).
#include "paradigms/dpsgd/dp_trainer.h"

#include <algorithm>

#include "kernels/axpby.h"
#include "kernels/counter_rng.h"
#include "kernels/dp_sgd.h"
#include "kernels/metrics.h"
#include "nn/safetensors.h"
#include "nn/schedule.h"
#include "paradigms/dpsgd/poisson_sampler.h"

namespace sp::dpsgd {

namespace {
constexpr uint64_t kNoisePurpose = 0x44504e4f495345ULL;  // "DPNOISE"
const std::string kEmaKey = "dpsgd/ema";
}  // namespace

DpTrainer::DpTrainer(Trainer& tr, const DpsgdSettings& settings, const DpPlan& plan, uint64_t seed, Stream& s)
    : tr_(tr), d_(settings), plan_(plan), seed_(seed), s_(s), psg_(tr.model()), uploader_(s) {
  SP_CHECK(plan.noise_multiplier > 0 && plan.sample_rate > 0 && plan.sample_rate <= 1 && plan.steps_per_epoch >= 1,
           "DpTrainer: invalid plan (sigma ", plan.noise_multiplier, ", q ", plan.sample_rate, ")");
  SP_CHECK(d_.augmult >= 1 && d_.physical_batch >= 1 && d_.clip_norm > 0, "DpTrainer: invalid settings");
  acc_ = Tensor::empty(tr.theta().shape(), tr.theta().dtype(), s);
  if (d_.ema_decay > 0) ema_ = tr.theta().clone(s);
}

void DpTrainer::step(const DeviceData& data, const std::vector<int64_t>& ids, int64_t step, const Tensor& metrics) {
  const int64_t K = d_.augmult;
  const TrainRecipe& r = tr_.recipe();
  acc_.zero_(s_);
  for (const std::vector<int64_t>& chunk : physical_batches(ids, d_.physical_batch)) {
    // The example ids and the K copies' labels go to the device in one copy, which does not wait for it.
    const int64_t b = int64_t(chunk.size());
    std::vector<int64_t> host(chunk);
    host.resize(size_t((K + 1) * b));
    for (int64_t k = 0; k < K; ++k)
      for (int64_t e = 0; e < b; ++e) host[size_t((k + 1) * b + e)] = data.host_labels[size_t(chunk[size_t(e)])];
    Tensor dev = uploader_.upload(host, {(K + 1) * b});
    Tensor bid = dev.narrow(0, 0, b), y = dev.narrow(0, b, K * b);
    const int64_t c = data.images.size(1), h = data.images.size(2), w = data.images.size(3);
    Tensor x = Tensor::empty({K * b, c, h, w}, r.augment_cfg.dtype, s_);
    for (int64_t k = 0; k < K; ++k) {
      // Copy k of step t uses augmentation "epoch" t*K + k: independent crops and flips per copy and step.
      Tensor xk = r.augment ? data::augment_batch(s_, data.images, bid, seed_, uint64_t(step * K + k), r.augment_cfg)
                            : data::normalize_batch(s_, data.images, bid, r.augment_cfg.norm, r.augment_cfg.dtype);
      x.narrow(0, k * b, b).copy_(xk, s_);
    }
    psg_.compute(s_, tr_.theta(), tr_.buffers(), x, y, K, r.label_smoothing);
    Tensor factors = Tensor::empty({b}, tr_.theta().dtype(), s_);
    clip_factors(s_, factors, psg_.sq_norms(), d_.clip_norm);
    psg_.accumulate(s_, acc_, factors);
    if (metrics.defined()) accumulate_metrics(s_, metrics, psg_.loss(), psg_.logits(), y);
  }
  add_gaussian_noise(s_, acc_, plan_.noise_multiplier * d_.clip_norm, crng::derive_key(seed_, kNoisePurpose),
                     uint64_t(step));
  axpby(s_, acc_, acc_, 1.0 / plan_.expected_batch(), 0.0);

  ScheduleConfig sc = r.schedule;
  if (sc.total_steps == 0) sc.total_steps = plan_.steps;
  Optimizer& opt = tr_.optimizer();
  opt.step(s_, tr_.theta(), acc_, LrSchedule(sc).lr(opt.steps()));
  if (ema_.defined()) {
    const double t = double(opt.steps());
    const double decay = std::min(d_.ema_decay, (1.0 + t) / (10.0 + t));
    axpby(s_, ema_, tr_.theta(), 1.0 - decay, decay);
  }
  batch_total_ += int64_t(ids.size());
  ++batch_steps_;
}

EpochStats DpTrainer::train_epoch(const DeviceData& data, int epoch,
                                  const std::function<void(const TrainProgress&)>& progress,
                                  double progress_interval_s) {
  const int64_t n = data.size(), steps = plan_.steps_per_epoch;
  SP_CHECK(n == plan_.train_size, "DpTrainer: planned for ", plan_.train_size, " examples, got ", n);
  return tr_.run_epoch(
      epoch, steps,
      [&](int64_t j, const Tensor& metrics) {
        const int64_t t = int64_t(epoch) * steps + j;
        std::vector<int64_t> ids = poisson_batch(n, plan_.sample_rate, seed_, t);
        step(data, ids, t, metrics);
        return int64_t(ids.size()) * d_.augmult;
      },
      progress, progress_interval_s);
}

std::map<std::string, Tensor> DpTrainer::state() const {
  if (!ema_.defined()) return {};
  return {{kEmaKey, ema_}};
}

void DpTrainer::load_state(const std::string& checkpoint_path) {
  if (!ema_.defined()) return;
  TensorFile f = load_safetensors(checkpoint_path);
  const Tensor& e = f.at(kEmaKey);
  SP_CHECK(e.shape() == ema_.shape(), checkpoint_path, ": ", kEmaKey, " is ", e.str(), ", expected ", ema_.str());
  ema_.copy_(e, s_);
}

void DpTrainer::finish() {
  if (ema_.defined()) tr_.theta().copy_(ema_, s_);
}

nlohmann::json DpTrainer::metrics_json() const {
  nlohmann::json j = plan_json(d_, plan_);
  j["evaluated_parameters"] = ema_.defined() ? "ema" : "final";
  if (batch_steps_ > 0) j["mean_batch_this_process"] = double(batch_total_) / double(batch_steps_);
  return j;
}

}  // namespace sp::dpsgd
