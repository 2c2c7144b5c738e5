// Samplers of the small class-conditional DDPM (shared/reference/round2-methods.md §7.3-7.5): DDPM ancestral
// steps ("fixedlarge"), DDIM steps over a uniform sub-sequence, classifier-free guidance (one 2B batch per
// step) and SDEdit / img2img with diffusers-style strength. The noise predictor is a caller-supplied EpsFn (a
// UNet); everything else runs as existing kernels on the Stream's device (axpby, broadcast binary ops, relu,
// gaussian noise), so CPU and CUDA give the same noise and, up to float rounding, the same images.
// Randomness: all noise comes from add_gaussian_noise keyed by sampler_noise_key(key): stream id 0 is x_T of
// sample() and the forward noise of sdedit(); the denoising step at timestep t draws its z from stream id 1 + t.
// Tested in tests/test_diffusion_sampler.cpp (suite DiffusionSampler).
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "kernels/tensor.h"
#include "paradigms/diffusion/noise_schedule.h"

namespace sp::diffusion {

// The noise predictor: eps(x_t [B, C, H, W], timesteps (one per row, as doubles), labels (one per row; the
// value null_label means unconditional)) -> [B, C, H, W] on x_t's device. Supplied by the caller (a UNet).
using EpsFn = std::function<Tensor(const Tensor& x, const std::vector<double>& t, const std::vector<int64_t>& labels)>;
// Called after each denoising step with the steps done and the steps of the whole run.
using ProgressFn = std::function<void(int64_t done, int64_t total)>;

enum class SamplerKind { ddpm, ddim };

struct SamplerConfig {
  SamplerKind kind = SamplerKind::ddim;
  int64_t steps = 50;       // DDIM steps (ignored by ddpm, which runs every t)
  double eta = 0.0;         // DDIM eta (0: deterministic)
  // Classifier-free guidance weight w: eps = (1+w) eps(x, y) - w eps(x, null); 0: conditional only.
  double guidance = 0.0;
  // Clip the predicted x0 to [-1, 1] (ddim: x̂0 before the update; ddpm: the posterior-mean form).
  bool clip_x0 = true;
  int64_t null_label = -1;  // the unconditional label (the UNet's num_classes); required (>= 0) when guidance != 0
};

// sp::Error naming the setting unless the configuration can run on ns: steps in [1, T] (ddim), eta finite and
// >= 0 with a non-negative variance budget 1 - ab_t' - c1^2 at every DDIM step, guidance finite, and
// null_label >= 0 when guidance != 0. sample() and sdedit() call it before any work.
void check_sampler_config(const NoiseSchedule& ns, const SamplerConfig& c);

// The key of every noise draw of one sample()/sdedit() call with this key.
uint64_t sampler_noise_key(uint64_t key);

// Elementwise clamp to [-1, 1] into a new contiguous tensor. No clamp kernel exists, so it is composed from
// relu and broadcast add/sub: max(x, -1) = x + relu(-1 - x), then min(y, 1) = y - relu(y - 1). Values in
// [-1, 1] come back bit-exact; values outside with |x| < 2^24 become exactly -1 or 1 (the subtraction x - 1 is
// exact there); NaN stays NaN, and +-inf or |x| >= 2^24 are not clamped reliably (x̂0 never gets there).
Tensor clip_unit(Stream& s, const Tensor& x);

// x̂0 = (x_t - sqrt(1 - ab_t) eps) / sqrt(ab_t) (§7.3), clipped to [-1, 1] when `clip`. t in [0, T).
Tensor predict_x0(Stream& s, const NoiseSchedule& ns, const Tensor& x_t, const Tensor& eps, int64_t t, bool clip);

// The guided noise prediction at timestep t for x [B, C, H, W] (§7.4). guidance == 0: eps(x, t, labels) as
// the model returned it (one call on B rows). Otherwise one call on the 2B batch [x; x] with labels
// [labels; null_label...], combined as (1 + w) eps_c - w eps_u. sp::Error when labels.size() != B, when a
// guidance weight comes without a null class, or when the model's output is not x's shape, dtype and device.
Tensor guided_eps(Stream& s, const EpsFn& eps, const Tensor& x, int64_t t, const std::vector<int64_t>& labels,
                  double guidance, int64_t null_label);

// DDIM's noise coefficients for the step t -> t_prev (§7.3): c1 = eta sqrt((1 - ab_t/ab_t')(1 - ab_t')/(1 - ab_t)),
// c2 = sqrt(1 - ab_t' - c1^2). sp::Error naming eta when 1 - ab_t' - c1^2 < 0 (possible only for eta > 1).
struct DdimCoefficients {
  double c1 = 0, c2 = 0;
};
DdimCoefficients ddim_coefficients(const NoiseSchedule& ns, int64_t t, int64_t t_prev, double eta);

// One DDIM update from timestep t to t_prev < t (t_prev = -1 after the last step), §7.3:
//   x̂0 = (x_t - sqrt(1 - ab_t) eps) / sqrt(ab_t), clipped to [-1, 1] when clip_x0;
//   x_t' = sqrt(ab_t') x̂0 + c1 z + c2 eps, z ~ N(0, I) from add_gaussian_noise(noise_key, noise_stream).
// eps stays the model's prediction in the c2 term even when x̂0 was clipped: §7.3 is silent on re-deriving it
// from the clipped x̂0 (the ddim code does not clip at all), so the formula is applied as written. No noise is
// drawn when c1 == 0 (eta 0, or t_prev == -1), which makes eta 0 deterministic.
Tensor ddim_step(Stream& s, const NoiseSchedule& ns, const Tensor& x_t, const Tensor& eps, int64_t t,
                 int64_t t_prev, double eta, bool clip_x0, uint64_t noise_key, uint64_t noise_stream);

// One DDPM ancestral update from timestep t to t - 1 (§7.3, "fixedlarge": sigma_t^2 = beta_t, no noise at t = 0):
//   clip_x0:  mu = coef1 x̂0 + coef2 x_t with x̂0 clipped to [-1, 1] (the posterior-mean form of the ddim code's
//             ddpm_steps), coef1 = sqrt(ab_{t-1}) beta_t / (1 - ab_t), coef2 = sqrt(alpha_t)(1 - ab_{t-1})/(1 - ab_t);
//   otherwise mu = (x_t - beta_t / sqrt(1 - ab_t) eps) / sqrt(alpha_t) (the direct form; the two agree without
//             clipping);
//   x_{t-1} = mu + sqrt(beta_t) z for t > 0, z from add_gaussian_noise(noise_key, noise_stream); x_{-1} = mu at t = 0.
Tensor ddpm_step(Stream& s, const NoiseSchedule& ns, const Tensor& x_t, const Tensor& eps, int64_t t, bool clip_x0,
                 uint64_t noise_key, uint64_t noise_stream);

// Class-conditional generation: x_T ~ N(0, I) (stream 0 of sampler_noise_key(key)), then every ddpm timestep
// T-1..0 or the DDIM sequence of c.steps from the top, with the guided eps at each step. Returns x0 clamped to
// [-1, 1]: f32 [labels.size(), C, H, W] on s's device. image = {C, H, W}.
Tensor sample(Stream& s, const NoiseSchedule& ns, const SamplerConfig& c, const EpsFn& eps,
              const std::vector<int64_t>& labels, Shape image, uint64_t key, const ProgressFn& progress = {});

// SDEdit / img2img with diffusers-style strength (§7.5). ddim: the sequence tau of S = c.steps, init =
// min(floor(S * strength), S); x0 is noised with q(x_t | x0) to tau[init - 1] and the last `init` timesteps of the
// descending sequence are run. ddpm: the same with S = T, i.e. t0 = floor(strength * T), noised to t0 - 1 and
// ancestral steps t0-1..0 (SDEdit's own runner). strength must lie in [0, 1]; when init == 0 (strength 0, or
// below 1/S) x0 comes back unchanged as a copy, with no noise and no model call. Otherwise the result is clamped
// to [-1, 1]. x0: floating [N, C, H, W] on s's device with one label per row; the result has x0's dtype.
Tensor sdedit(Stream& s, const NoiseSchedule& ns, const SamplerConfig& c, const EpsFn& eps, const Tensor& x0,
              const std::vector<int64_t>& labels, double strength, uint64_t key, const ProgressFn& progress = {});

}  // namespace sp::diffusion
