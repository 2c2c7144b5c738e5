// The DDPM forward process (shared/reference/round2-methods.md §7.2): the linear beta schedule in float64 with
// alpha = 1 - beta and the cumulative products alpha_bar, the forward draw q(x_t | x0) with one timestep per
// row (what training and SDEdit use), and DDIM's uniform sub-sequence of timesteps (§7.3). Timesteps are
// 0-indexed as in DDPM; alpha_bar_at(-1) = 1 is DDIM's convention for the step after the last one.
// Tested in tests/test_diffusion_sampler.cpp (suite NoiseSchedule).
#pragma once
#include <cstdint>
#include <vector>

#include "kernels/tensor.h"

namespace sp::diffusion {

struct NoiseSchedule {
  // beta_t = linspace(beta_start, beta_end, T)[t], t = 0..T-1, as numpy's linspace (the last value is beta_end
  // exactly). sp::Error unless T >= 1 and 0 < beta_start, beta_end < 1.
  static NoiseSchedule linear(int64_t T = 1000, double beta_start = 1e-4, double beta_end = 0.02);

  int64_t T = 0;
  std::vector<double> beta, alpha, alpha_bar;  // alpha = 1 - beta; alpha_bar[t] = prod_{s<=t} alpha[s]

  // alpha_bar[t] for t in [0, T); 1 for t == -1 (DDIM's alpha_bar_{-1}); sp::Error otherwise.
  double alpha_bar_at(int64_t t) const;
};

// out = sqrt(ab_t) x0 + sqrt(1 - ab_t) eps with t = t[i] for row i: x0, eps and out share one floating dtype,
// one shape [N, ...] and s's device; t has N entries in [0, T). out is contiguous and must not overlap x0 or
// eps. Two broadcast multiplies with per-row coefficient columns [N, 1, ...], so any backend runs it.
void q_sample(Stream& s, const NoiseSchedule& ns, const Tensor& out, const Tensor& x0, const Tensor& eps,
              const std::vector<int64_t>& t);

// DDIM's uniform sub-sequence, ascending: tau_i = i * k for i = 0..steps-1 with k = T / steps (integer
// division, the ddim code's "uniform" skip). Exactly `steps` entries: where steps does not divide T the ddim
// code's range(0, T, k) would give a few more. sp::Error when steps < 1 or steps > T.
std::vector<int64_t> ddim_timesteps(int64_t T, int64_t steps);

}  // namespace sp::diffusion
