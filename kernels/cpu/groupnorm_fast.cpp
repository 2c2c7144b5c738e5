// float32 group normalisation, the CPU fast path (see groupnorm_fast.h).
#include "kernels/cpu/groupnorm_fast.h"

#include <algorithm>
#include <vector>

#include "kernels/cpu/norm_ptrs.h"
#include "kernels/cpu/norm_rows.h"
#include "kernels/cpu/parallel.h"
#include "kernels/norm_math.h"
#include "kernels/stat_math.h"

namespace sp::cpu {
namespace {
// Items per parallel block: at least ~32k values each, so a block pays for its hand-off.
int64_t blocks_of(int64_t values) { return std::max<int64_t>(1, (int64_t(1) << 15) / std::max<int64_t>(1, values)); }
}  // namespace

void group_norm_fwd_f32(const Tensor& y, const Tensor& save_mean, const Tensor& save_invstd, const Tensor& x,
                        const Tensor& weight, const Tensor& bias, int64_t G, double eps) {
  NormDims d = norm_dims("group_norm", x);
  const int64_t Cg = d.C / G, L = Cg * d.HW;
  const NormFwdPtrs fp = norm_fwd_ptrs(y, save_mean, save_invstd, x, weight, bias);
  const float *xp = fp.x, *w = fp.w, *b = fp.b;
  float *yp = fp.y, *mean = fp.mean, *invstd = fp.invstd;  // group norm keeps no running statistics
  parallel_ranges(d.N * G, blocks_of(L), [&](int64_t s0, int64_t s1) {
    for (int64_t s = s0; s < s1; ++s) {  // s = n * G + g: the group's values are contiguous
      const float* xs = xp + s * L;
      const double m = lane_sum(L, [&](int64_t i) { return xs[i]; }) / double(L);
      const float mf = float(m);
      const double ss = lane_sum(L, [&](int64_t i) { float v = xs[i] - mf; return v * v; });
      const double var = centred_variance(ss, double(L), m, mf);
      mean[s] = mf;
      invstd[s] = float(norm_invstd<double>(var, eps));
      for (int64_t j = 0; j < Cg; ++j) {
        const int64_t c = (s % G) * Cg + j;
        const float scale = invstd[s] * (w ? w[c] : 1.f), shift = (b ? b[c] : 0.f) - mf * scale;
        affine_row(yp + s * L + j * d.HW, xs + j * d.HW, d.HW, scale, shift);
      }
    }
  });
}

void group_norm_bwd_f32(const Tensor& dx, const Tensor& dweight, const Tensor& dbias, const Tensor& dy,
                        const Tensor& x, const Tensor& save_mean, const Tensor& save_invstd, const Tensor& weight,
                        int64_t G, double beta_x, double beta_w, double beta_b) {
  NormDims d = norm_dims("group_norm backward", x);
  const int64_t Cg = d.C / G, L = Cg * d.HW;
  const NormBwdPtrs bp = norm_bwd_ptrs(dx, dweight, dbias, dy, x, save_mean, save_invstd, weight);
  const float *xp = bp.x, *gy = bp.dy, *mean = bp.mean, *invstd = bp.invstd, *w = bp.w;
  float *gx = bp.dx, *gw = bp.dw, *gb = bp.db;
  // Per plane p = n * C + c: sum of dy and of dy * xhat.
  std::vector<double> sdy(size_t(d.N * d.C)), sdyxh(size_t(d.N * d.C));
  parallel_ranges(d.N * d.C, blocks_of(d.HW), [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t s = p / Cg;
      const float *g = gy + p * d.HW, *r = xp + p * d.HW, m = mean[s];
      sdy[size_t(p)] = lane_sum(d.HW, [&](int64_t i) { return g[i]; });
      sdyxh[size_t(p)] = double(invstd[s]) * lane_sum(d.HW, [&](int64_t i) { return g[i] * (r[i] - m); });
    }
  });
  for (int64_t c = 0; c < d.C; ++c) {
    double a = 0, b = 0;
    for (int64_t n = 0; n < d.N; ++n) {
      a += sdy[size_t(n * d.C + c)];
      b += sdyxh[size_t(n * d.C + c)];
    }
    if (gw) stat::store_grad(gw[c], float(b), float(beta_w));
    if (gb) stat::store_grad(gb[c], float(a), float(beta_b));
  }
  if (!gx) return;
  const float bx = float(beta_x);
  parallel_ranges(d.N * G, blocks_of(L), [&](int64_t s0, int64_t s1) {
    for (int64_t s = s0; s < s1; ++s) {
      const int64_t n = s / G, c0 = (s % G) * Cg;
      double a = 0, b = 0;
      for (int64_t c = c0; c < c0 + Cg; ++c) {
        const double wc = w ? double(w[c]) : 1.0;
        a += wc * sdy[size_t(n * d.C + c)];
        b += wc * sdyxh[size_t(n * d.C + c)];
      }
      // dx = invstd (w dy - mean(w dy) - xhat mean(w dy xhat)) = (invstd w) dy + kb (x - mean) + k.
      const double is = invstd[s];
      const float k = float(-is * a / double(L)), kb = float(-is * is * b / double(L)), m = mean[s];
      for (int64_t j = 0; j < Cg; ++j) {
        const int64_t c = c0 + j, off = s * L + j * d.HW;
        const float ka = float(is * (w ? double(w[c]) : 1.0));
        input_grad_row(gx + off, gy + off, xp + off, d.HW, ka, kb, m, k, bx);
      }
    }
  });
}

}  // namespace sp::cpu
