// DDPM / DDIM sampling, classifier-free guidance and SDEdit over existing kernels (see sampler.h).
#include "paradigms/diffusion/sampler.h"

#include <algorithm>
#include <cmath>

#include "kernels/axpby.h"
#include "kernels/counter_rng.h"
#include "kernels/dp_sgd.h"
#include "kernels/elementwise.h"

namespace sp::diffusion {

namespace {

constexpr uint64_t kNoisePurpose = 0xD1FF5A3Dull;  // purpose of sampler_noise_key
constexpr uint64_t kInitialNoiseStream = 0;        // x_T, or SDEdit's forward noise

uint64_t step_stream(int64_t t) { return 1 + uint64_t(t); }

// The denoising timesteps of one run, highest first: all of T-1..0 for ddpm, the DDIM sequence for ddim.
std::vector<int64_t> descending_sequence(const NoiseSchedule& ns, const SamplerConfig& c) {
  std::vector<int64_t> seq;
  if (c.kind == SamplerKind::ddpm) {
    for (int64_t t = ns.T - 1; t >= 0; --t) seq.push_back(t);
  } else {
    seq = ddim_timesteps(ns.T, c.steps);
    std::reverse(seq.begin(), seq.end());
  }
  return seq;
}

void check_rows(const char* who, int64_t rows, const std::vector<int64_t>& labels) {
  SP_CHECK(int64_t(labels.size()) == rows, who, ": ", labels.size(), " labels for ", rows,
           " rows (labels must give one per row)");
}

void check_image_batch(const char* who, Stream& s, const Tensor& x) {
  SP_CHECK(x.dim() == 4 && is_floating(x.dtype()), who, ": expected a floating [N, C, H, W] batch, got ", x.str());
  SP_CHECK(x.device() == s.device(), who, ": ", x.str(), " is not on the stream's device ", s.device());
}

// A contiguous tensor like x (on x's device), uninitialised.
Tensor empty_like(Stream& s, const Tensor& x) { return Tensor::empty(x.shape(), x.dtype(), s); }

// The denoising loop shared by sample() and sdedit(): x at seq[0] down through every entry of seq.
Tensor denoise(Stream& s, const NoiseSchedule& ns, const SamplerConfig& c, const EpsFn& eps, Tensor x,
               const std::vector<int64_t>& labels, const std::vector<int64_t>& seq, uint64_t noise_key,
               const ProgressFn& progress) {
  const int64_t total = int64_t(seq.size());
  for (int64_t i = 0; i < total; ++i) {
    const int64_t t = seq[size_t(i)];
    Tensor e = guided_eps(s, eps, x, t, labels, c.guidance, c.null_label);
    if (c.kind == SamplerKind::ddim) {
      const int64_t t_prev = i + 1 < total ? seq[size_t(i + 1)] : -1;
      x = ddim_step(s, ns, x, e, t, t_prev, c.eta, c.clip_x0, noise_key, step_stream(t));
    } else {
      x = ddpm_step(s, ns, x, e, t, c.clip_x0, noise_key, step_stream(t));
    }
    if (progress) progress(i + 1, total);
  }
  return clip_unit(s, x);
}

}  // namespace

void check_sampler_config(const NoiseSchedule& ns, const SamplerConfig& c) {
  SP_CHECK(ns.T >= 1 && int64_t(ns.alpha_bar.size()) == ns.T, "sampler: the noise schedule has no timesteps (T = ",
           ns.T, ")");
  SP_CHECK(c.kind == SamplerKind::ddpm || c.kind == SamplerKind::ddim, "sampler: unknown sampler kind");
  SP_CHECK(std::isfinite(c.eta) && c.eta >= 0, "sampler: eta = ", c.eta, " must be finite and >= 0");
  SP_CHECK(std::isfinite(c.guidance), "sampler: guidance = ", c.guidance, " must be finite");
  SP_CHECK(c.guidance == 0 || c.null_label >= 0, "sampler: guidance = ", c.guidance,
           " but null_label = ", c.null_label, ": a guidance weight needs a conditional model with a null class");
  if (c.kind == SamplerKind::ddim) {
    SP_CHECK(c.steps >= 1 && c.steps <= ns.T, "sampler: steps = ", c.steps, " must lie in [1, T] with T = ", ns.T);
    // eta > 1 can exhaust the variance budget of a step; find out now rather than mid-run.
    const std::vector<int64_t> seq = descending_sequence(ns, c);
    for (size_t i = 0; i < seq.size(); ++i) ddim_coefficients(ns, seq[i], i + 1 < seq.size() ? seq[i + 1] : -1, c.eta);
  }
}

uint64_t sampler_noise_key(uint64_t key) { return crng::derive_key(key, kNoisePurpose); }

Tensor clip_unit(Stream& s, const Tensor& x) {
  SP_CHECK(is_floating(x.dtype()), "clip_unit: needs a floating tensor, got ", x.str());
  Tensor minus_one = Tensor::full({1}, -1.0, x.dtype(), s), one = Tensor::full({1}, 1.0, x.dtype(), s);
  Tensor d = empty_like(s, x), r = empty_like(s, x), lo = empty_like(s, x), out = empty_like(s, x);
  // max(x, -1) = x + relu(-1 - x): relu gives exactly 0 for x >= -1, so those values pass unchanged.
  binary(s, d, minus_one, x, BinaryOp::sub);
  activation(s, r, d, Act::relu);
  binary(s, lo, x, r, BinaryOp::add);
  // min(lo, 1) = lo - relu(lo - 1), exact for lo <= 1 likewise.
  binary(s, d, lo, one, BinaryOp::sub);
  activation(s, r, d, Act::relu);
  binary(s, out, lo, r, BinaryOp::sub);
  return out;
}

Tensor predict_x0(Stream& s, const NoiseSchedule& ns, const Tensor& x_t, const Tensor& eps, int64_t t, bool clip) {
  check_same_shape("predict_x0", x_t, eps);
  SP_CHECK(t >= 0 && t < ns.T, "predict_x0: timestep t = ", t, " outside [0, ", ns.T, ")");
  const double ab = ns.alpha_bar[size_t(t)];
  Tensor xc = x_t.contiguous(s), ec = eps.contiguous(s);
  Tensor x0 = empty_like(s, xc);
  axpby(s, x0, xc, 1.0 / std::sqrt(ab), 0.0);
  axpby(s, x0, ec, -std::sqrt(1.0 - ab) / std::sqrt(ab), 1.0);
  return clip ? clip_unit(s, x0) : x0;
}

Tensor guided_eps(Stream& s, const EpsFn& eps, const Tensor& x, int64_t t, const std::vector<int64_t>& labels,
                  double guidance, int64_t null_label) {
  check_image_batch("guided_eps", s, x);
  const int64_t B = x.size(0);
  check_rows("guided_eps", B, labels);
  SP_CHECK(std::isfinite(guidance), "guided_eps: guidance = ", guidance, " must be finite");
  SP_CHECK(guidance == 0 || null_label >= 0, "guided_eps: guidance = ", guidance, " but null_label = ", null_label,
           ": a guidance weight needs a conditional model with a null class");
  auto call = [&](const Tensor& in, const std::vector<int64_t>& y) {
    Tensor e = eps(in, std::vector<double>(y.size(), double(t)), y);
    SP_CHECK(e.defined() && e.shape() == in.shape() && e.dtype() == in.dtype() && e.device() == in.device(),
             "guided_eps: the noise predictor returned ", (e.defined() ? e.str() : std::string("nothing")),
             " for input ", in.str());
    return e;
  };
  // Unguided: the model's own output, untouched, so guidance 0 is exactly the conditional prediction.
  if (guidance == 0) return call(x, labels);

  // One 2B batch [x; x] with labels [y; null] (§7.4: both passes in one batch).
  Tensor xx = Tensor::empty({2 * B, x.size(1), x.size(2), x.size(3)}, x.dtype(), s);
  xx.narrow(0, 0, B).copy_(x, s);
  xx.narrow(0, B, B).copy_(x, s);
  std::vector<int64_t> yy = labels;
  yy.resize(size_t(2 * B), null_label);
  Tensor e = call(xx, yy).contiguous(s);
  Tensor out = empty_like(s, x);
  axpby(s, out, e.narrow(0, 0, B), 1.0 + guidance, 0.0);
  axpby(s, out, e.narrow(0, B, B), -guidance, 1.0);
  return out;
}

DdimCoefficients ddim_coefficients(const NoiseSchedule& ns, int64_t t, int64_t t_prev, double eta) {
  SP_CHECK(t >= 0 && t < ns.T && t_prev >= -1 && t_prev < t, "ddim step: timesteps t = ", t, " -> t_prev = ", t_prev,
           " must satisfy -1 <= t_prev < t < T = ", ns.T);
  SP_CHECK(std::isfinite(eta) && eta >= 0, "ddim step: eta = ", eta, " must be finite and >= 0");
  const double ab = ns.alpha_bar[size_t(t)], ab_prev = ns.alpha_bar_at(t_prev);
  DdimCoefficients k;
  k.c1 = eta * std::sqrt((1.0 - ab / ab_prev) * (1.0 - ab_prev) / (1.0 - ab));
  const double budget = 1.0 - ab_prev - k.c1 * k.c1;
  // Rounding can leave -1e-17 where the budget is exactly 0 (eta 1); only a real deficit is an error.
  SP_CHECK(budget >= -1e-12, "ddim step: eta = ", eta, " leaves a negative variance 1 - ab_t' - c1^2 = ", budget,
           " at t = ", t, " -> ", t_prev);
  k.c2 = std::sqrt(std::max(budget, 0.0));
  return k;
}

Tensor ddim_step(Stream& s, const NoiseSchedule& ns, const Tensor& x_t, const Tensor& eps, int64_t t,
                 int64_t t_prev, double eta, bool clip_x0, uint64_t noise_key, uint64_t noise_stream) {
  const DdimCoefficients k = ddim_coefficients(ns, t, t_prev, eta);
  Tensor x0 = predict_x0(s, ns, x_t, eps, t, clip_x0);
  Tensor out = empty_like(s, x0);
  axpby(s, out, x0, std::sqrt(ns.alpha_bar_at(t_prev)), 0.0);
  axpby(s, out, eps.contiguous(s), k.c2, 1.0);
  // add_gaussian_noise adds c1 * z in place; with c1 == 0 it draws nothing.
  add_gaussian_noise(s, out, k.c1, noise_key, noise_stream);
  return out;
}

Tensor ddpm_step(Stream& s, const NoiseSchedule& ns, const Tensor& x_t, const Tensor& eps, int64_t t, bool clip_x0,
                 uint64_t noise_key, uint64_t noise_stream) {
  check_same_shape("ddpm step", x_t, eps);
  SP_CHECK(t >= 0 && t < ns.T, "ddpm step: timestep t = ", t, " outside [0, ", ns.T, ")");
  const double beta = ns.beta[size_t(t)], alpha = ns.alpha[size_t(t)];
  const double ab = ns.alpha_bar[size_t(t)], ab_prev = ns.alpha_bar_at(t - 1);
  Tensor xc = x_t.contiguous(s);
  Tensor out = empty_like(s, xc);
  if (clip_x0) {
    // Posterior mean of q(x_{t-1} | x_t, x̂0) with the clipped x̂0; at t = 0 coef1 = 1 and coef2 = 0, so mu = x̂0.
    Tensor x0 = predict_x0(s, ns, xc, eps, t, true);
    axpby(s, out, x0, std::sqrt(ab_prev) * beta / (1.0 - ab), 0.0);
    axpby(s, out, xc, std::sqrt(alpha) * (1.0 - ab_prev) / (1.0 - ab), 1.0);
  } else {
    axpby(s, out, xc, 1.0 / std::sqrt(alpha), 0.0);
    axpby(s, out, eps.contiguous(s), -beta / (std::sqrt(alpha) * std::sqrt(1.0 - ab)), 1.0);
  }
  if (t > 0) add_gaussian_noise(s, out, std::sqrt(beta), noise_key, noise_stream);
  return out;
}

Tensor sample(Stream& s, const NoiseSchedule& ns, const SamplerConfig& c, const EpsFn& eps,
              const std::vector<int64_t>& labels, Shape image, uint64_t key, const ProgressFn& progress) {
  check_sampler_config(ns, c);
  SP_CHECK(image.size() == 3 && image.numel() > 0, "sample: image shape ", image, " must be [C, H, W], all positive");
  SP_CHECK(!labels.empty(), "sample: no labels (one per image to generate)");
  SP_CHECK(bool(eps), "sample: no noise predictor");
  const uint64_t noise_key = sampler_noise_key(key);
  Tensor x = Tensor::zeros({int64_t(labels.size()), image[0], image[1], image[2]}, DType::f32, s);
  add_gaussian_noise(s, x, 1.0, noise_key, kInitialNoiseStream);  // x_T ~ N(0, I)
  return denoise(s, ns, c, eps, x, labels, descending_sequence(ns, c), noise_key, progress);
}

Tensor sdedit(Stream& s, const NoiseSchedule& ns, const SamplerConfig& c, const EpsFn& eps, const Tensor& x0,
              const std::vector<int64_t>& labels, double strength, uint64_t key, const ProgressFn& progress) {
  check_sampler_config(ns, c);
  SP_CHECK(strength >= 0 && strength <= 1, "sdedit: strength = ", strength, " must lie in [0, 1]");
  check_image_batch("sdedit", s, x0);
  check_rows("sdedit", x0.size(0), labels);
  SP_CHECK(bool(eps), "sdedit: no noise predictor");

  // diffusers: init = min(int(S * strength), S), run timesteps[S - init:] of the descending sequence.
  std::vector<int64_t> seq = descending_sequence(ns, c);
  const int64_t S = int64_t(seq.size());
  const int64_t init = std::min(int64_t(std::floor(double(S) * strength)), S);
  if (init == 0) return x0.clone(s);  // nothing to run: the input, untouched
  seq.erase(seq.begin(), seq.begin() + (S - init));

  const uint64_t noise_key = sampler_noise_key(key);
  Tensor z = Tensor::zeros(x0.shape(), x0.dtype(), s);
  add_gaussian_noise(s, z, 1.0, noise_key, kInitialNoiseStream);
  Tensor x = empty_like(s, x0);
  q_sample(s, ns, x, x0, z, std::vector<int64_t>(size_t(x0.size(0)), seq.front()));
  return denoise(s, ns, c, eps, x, labels, seq, noise_key, progress);
}

}  // namespace sp::diffusion
