// One shadow's DDPM training and the fixed-query denoising losses (see unet_trainer.h).
#include "paradigms/diffusion/unet_trainer.h"

#include <algorithm>
#include <cmath>

#include "data/augment.h"
#include "kernels/augment.h"
#include "kernels/axpby.h"
#include "kernels/counter_rng.h"
#include "kernels/dp_sgd.h"
#include "nn/ops_loss.h"

namespace sp::diffusion {

namespace {

// Streams of the per-step random draws under the trainer's key.
constexpr uint64_t kBatchStream = 1, kNoiseStream = 2, kDropoutStream = 3;

Tensor standard_normal(Stream& s, const Shape& shape, uint64_t key, uint64_t stream) {
  Tensor z = Tensor::zeros(shape, DType::f32, s);
  add_gaussian_noise(s, z, 1.0, key, stream);
  return z;
}

Tensor ids_tensor(Stream& s, const std::vector<int64_t>& ids) {
  return Tensor::from_vector(ids, {int64_t(ids.size())}).to(s.device(), s);
}

}  // namespace

Tensor to_model_space(Stream& s, const Tensor& images_u8, const std::vector<int64_t>& ids,
                      const std::vector<uint8_t>& flip) {
  const int64_t n = int64_t(ids.size());
  SP_CHECK(flip.empty() || int64_t(flip.size()) == n, "to_model_space: ", flip.size(), " flips for ", n, " images");
  const int64_t C = images_u8.size(1), H = images_u8.size(2), W = images_u8.size(3);
  std::vector<int32_t> params(static_cast<size_t>(3 * n), 0);
  for (int64_t i = 0; i < n; ++i) params[size_t(3 * i + 2)] = flip.empty() ? 0 : flip[size_t(i)];
  Tensor p = Tensor::from_vector(params, {n, 1, 3}).to(s.device(), s);
  Tensor out = Tensor::empty({n, 1, C, H, W}, DType::f32, s);
  data::Normalization half{std::vector<double>(size_t(C), 0.5), std::vector<double>(size_t(C), 0.5)};  // [-1, 1]
  crop_flip_normalize(s, out, images_u8.to(s.device(), s), ids_tensor(s, ids), p, 0, PadMode::zero, half.params());
  return out.view({n, C, H, W});
}

UNetTrainer::UNetTrainer(const models::Denoiser& unet, const TrainConfig& c, const NoiseSchedule& ns,
                         const DeviceData& data, uint64_t key, Stream& s)
    : unet_(unet), c_(c), ns_(ns), data_(data), key_(key), s_(s), tape_(s) {
  SP_CHECK(data.size() > 0, "diffusion training: the private set is empty");
  theta_ = Tensor::empty({unet.params().numel()}, DType::f32, s);
  unet.init(s, theta_, Tensor(), crng::derive_key(key, 0x494e4954));  // "INIT"
  ema_ = theta_.clone(s);
  OptimConfig oc;
  oc.kind = OptimKind::adam;
  oc.beta1 = 0.9;
  oc.beta2 = 0.999;
  oc.eps = 1e-8;
  opt_ = make_optimizer(oc, theta_, s);
  sq_ = Tensor::empty({1}, DType::f32, s);
}

double UNetTrainer::lr_at(int64_t step) const {
  if (c_.warmup <= 0) return c_.lr;
  return c_.lr * std::min(1.0, double(step + 1) / double(c_.warmup));
}

double UNetTrainer::step() {
  const int64_t B = c_.batch, n = data_.size();
  const uint64_t step_key = crng::derive_key(key_, uint64_t(step_));
  crng::Stream32 r(step_key, kBatchStream);
  std::vector<int64_t> ids(static_cast<size_t>(B)), labels(static_cast<size_t>(B));
  std::vector<uint8_t> flip(static_cast<size_t>(B));
  std::vector<double> t(static_cast<size_t>(B));
  std::vector<int64_t> ti(static_cast<size_t>(B));
  const int64_t null_label = unet_.null_label();
  for (int64_t i = 0; i < B; ++i) {
    ids[size_t(i)] = int64_t(r.below(uint32_t(n)));
    flip[size_t(i)] = c_.flip && (r.next_u32() & 1u);
    ti[size_t(i)] = int64_t(r.below(uint32_t(ns_.T)));
    t[size_t(i)] = double(ti[size_t(i)]);
    const bool drop = null_label >= 0 && c_.p_uncond > 0 && r.uniform_d() < c_.p_uncond;
    labels[size_t(i)] = drop ? null_label : data_.host_labels[size_t(ids[size_t(i)])];
  }
  if (null_label < 0) labels.clear();
  Tensor x0 = to_model_space(s_, data_.images, ids, flip);
  Tensor eps = standard_normal(s_, x0.shape(), step_key, kNoiseStream);
  Tensor xt = Tensor::empty(x0.shape(), DType::f32, s_);
  q_sample(s_, ns_, xt, x0, eps, ti);

  tape_.clear();
  Var th = tape_.leaf(theta_, true);
  models::DenoiseArgs a{t, labels, true, step_key, kDropoutStream};
  Var pred = unet_.denoise(tape_, th, tape_.leaf(xt), a);
  Var loss = ag::mse_loss(tape_, pred, tape_.leaf(eps));
  Tensor g = tape_.grad(loss, {th})[0];
  const double lv = tape_.value(loss).to(DType::f64, s_).to_vector<double>(s_)[0];

  // Global-norm clip (§7.2): g *= min(1, clip / ||g||).
  Tensor g2 = g.view({1, g.numel()});
  row_sq_norm(s_, sq_, g2, 0.0);
  last_norm_ = std::sqrt(sq_.to(DType::f64, s_).to_vector<double>(s_)[0]);
  if (c_.grad_clip > 0 && last_norm_ > c_.grad_clip) axpby(s_, g, g, c_.grad_clip / last_norm_, 0.0);
  opt_->step(s_, theta_, g, lr_at(step_));
  // The EMA starts equal to the weights (decay 0 at the first step), then decays at c.ema.
  const double d = step_ == 0 ? 0.0 : c_.ema;
  axpby(s_, ema_, theta_, 1.0 - d, d);
  ++step_;
  return lv;
}

std::map<std::string, Tensor> UNetTrainer::state() const {
  std::map<std::string, Tensor> st = opt_->state("adam.");
  st["unet.theta"] = theta_;
  st["unet.ema"] = ema_;
  st["unet.step"] = Tensor::from_vector<int64_t>({step_}, {1});
  return st;
}

void UNetTrainer::load_state(const std::map<std::string, Tensor>& st, const std::string& path) {
  auto get = [&](const std::string& key) -> const Tensor& {
    auto it = st.find(key);
    SP_CHECK(it != st.end(), path, ": no ", key, " (not a diffusion training checkpoint)");
    return it->second;
  };
  for (const char* key : {"unet.theta", "unet.ema"})
    SP_CHECK(get(key).numel() == theta_.numel(), path, ": ", key, " holds ", get(key).numel(),
             " parameters, the configured UNet has ", theta_.numel(), " (another diffusion.unet?)");
  theta_.copy_(get("unet.theta").to(DType::f32).to(s_.device(), s_), s_);
  ema_.copy_(get("unet.ema").to(DType::f32).to(s_.device(), s_), s_);
  opt_->load_state(st, "adam.", s_);
  step_ = get("unet.step").to(DType::i64).to_vector<int64_t>()[0];
  SP_CHECK(step_ >= 0 && step_ == opt_->steps(), path, ": step ", step_, " disagrees with the optimiser's ",
           opt_->steps());
}

std::vector<std::vector<double>> denoising_losses(Stream& s, const models::Denoiser& unet, const Tensor& theta,
                                                  const NoiseSchedule& ns, const Tensor& x0,
                                                  const std::vector<int64_t>& labels, const std::vector<int64_t>& ids,
                                                  const std::vector<int64_t>& timesteps, int64_t noises, uint64_t key,
                                                  int64_t batch) {
  const int64_t n = x0.size(0), Q = int64_t(timesteps.size()) * noises;
  SP_CHECK(int64_t(ids.size()) == n && (labels.empty() || int64_t(labels.size()) == n), "denoising_losses: ", n,
           " images, ", ids.size(), " ids, ", labels.size(), " labels");
  const Shape one{1, x0.size(1), x0.size(2), x0.size(3)};
  std::vector<std::vector<double>> out(static_cast<size_t>(n), std::vector<double>(static_cast<size_t>(Q)));
  Tape tape(s);
  tape.set_recording(false);
  for (int64_t q = 0; q < Q; ++q) {
    const int64_t tq = timesteps[size_t(q / noises)];
    for (int64_t lo = 0; lo < n; lo += batch) {
      const int64_t hi = std::min(n, lo + batch), b = hi - lo;
      Tensor xb = x0.narrow(0, lo, b).contiguous(s);
      // Each image's noise depends on (key, its id, q) only: the same query for every model and batch size.
      Tensor eps = Tensor::empty(xb.shape(), DType::f32, s);
      for (int64_t i = 0; i < b; ++i) {
        Tensor row = eps.narrow(0, i, 1);
        row.fill_(0.0, s);
        add_gaussian_noise(s, row, 1.0, crng::derive_key(key, uint64_t(ids[size_t(lo + i)])), uint64_t(q));
      }
      Tensor xt = Tensor::empty(xb.shape(), DType::f32, s);
      q_sample(s, ns, xt, xb, eps, std::vector<int64_t>(size_t(b), tq));
      std::vector<int64_t> lb;
      if (!labels.empty()) lb.assign(labels.begin() + lo, labels.begin() + hi);
      tape.clear();
      models::DenoiseArgs a{std::vector<double>(size_t(b), double(tq)), lb, false, 0, 0};
      Tensor pred = tape.value(unet.denoise(tape, tape.leaf(theta), tape.leaf(xt), a));
      std::vector<float> p = pred.to(DType::f32, s).to_vector<float>(s), e = eps.to_vector<float>(s);
      const int64_t per = one.numel();
      for (int64_t i = 0; i < b; ++i) {
        double acc = 0;
        for (int64_t j = 0; j < per; ++j) {
          const double d = double(p[size_t(i * per + j)]) - double(e[size_t(i * per + j)]);
          acc += d * d;
        }
        out[size_t(lo + i)][size_t(q)] = acc / double(per);
      }
    }
  }
  return out;
}

}  // namespace sp::diffusion
