// Per-element math of the DP-SGD kernels (kernels/dp_sgd.h), shared by both backends: the flat clipping
// factor and the counter-based Gaussian noise (Philox4x32-10 words -> two 53-bit uniforms -> Box-Muller),
// so the CPU tests cover what the GPU computes and the noise of a step is the same on every backend.
#pragma once
#include <cmath>
#include <cstdint>

#include "kernels/counter_rng.h"
#include "kernels/hd.h"

namespace sp::dp {

// The relative margin by which a clipping factor stored in T stays below Opacus's value, so that the clipped
// contribution f g, formed in T, has norm <= C after rounding: the stored squared norm may be rounded down
// (the norm by half a unit roundoff u), the factor rounded up (u), and each product f g_j rounded (u); 8 u
// covers their sum with room, and costs 5e-7 relative in f32. Without it Opacus's 1e-6 is an absolute
// margin, smaller than f32 rounding once ||g|| exceeds about 10, and the sensitivity bound of
// shared/reference/lira-dpsgd.md §3.1 must hold for what is summed, not for the real numbers.
SP_HD constexpr double clip_margin(float) { return 8 * 0x1p-24; }
SP_HD constexpr double clip_margin(double) { return 8 * 0x1p-53; }

// Opacus's flat clipping, min(1, C / (||g|| + 1e-6)), with the factor lowered by `margin` (clip_margin of
// the type the factor and the gradients are stored in).
SP_HD double clip_factor(double sq_norm, double clip_norm, double margin) {
  double f = clip_norm / (sqrt(sq_norm) + 1e-6) * (1.0 - margin);
  return f < 1.0 ? f : 1.0;
}

// Two independent standard normal values for pair `p` of noise stream (key, id): Philox block
// {p_lo, p_hi, id_lo, id_hi} gives two 53-bit uniforms u1 in (0, 1] and u2 in [0, 1).
SP_HD void gaussian_pair(uint64_t key, uint64_t id, uint64_t p, double& z0, double& z1) {
  crng::U32x4 r = crng::philox4x32_10(
      crng::U32x4{{uint32_t(p), uint32_t(p >> 32), uint32_t(id), uint32_t(id >> 32)}}, uint32_t(key),
      uint32_t(key >> 32));
  const double scale = 1.0 / 9007199254740992.0;  // 2^-53
  const uint64_t a = (uint64_t(r.v[0]) << 32 | r.v[1]) >> 11, b = (uint64_t(r.v[2]) << 32 | r.v[3]) >> 11;
  const double u1 = (double(a) + 1.0) * scale, u2 = double(b) * scale;
  const double radius = sqrt(-2.0 * log(u1));
  const double angle = 6.283185307179586476925286766559 * u2;
  z0 = radius * cos(angle);
  z1 = radius * sin(angle);
}

}  // namespace sp::dp
