// float32 group normalisation, the CPU fast path (see groupnorm_fast.h). The fused epilogue does the float
// operations of group norm, add and ReLU as separate ops, in the same order, so fusing does not change a bit.
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

void group_norm_fwd_f32(const GroupNormFwdArgs& a) {
  NormDims d = norm_dims("group_norm", a.x);
  const int64_t G = a.groups, Cg = d.C / G, L = Cg * d.HW;
  const NormFwdPtrs fp = norm_fwd_ptrs(a.y, a.save_mean, a.save_invstd, a.x, a.weight, a.bias);
  const float *xp = fp.x, *w = fp.w, *b = fp.b, *res = data_or_null<float>(a.residual);
  float *yp = fp.y, *mean = fp.mean, *invstd = fp.invstd;  // group norm keeps no running statistics
  const bool relu = a.relu;
  const double eps = a.eps;
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
        const int64_t c = (s % G) * Cg + j, off = s * L + j * d.HW;
        const float scale = invstd[s] * (w ? w[c] : 1.f), shift = (b ? b[c] : 0.f) - mf * scale;
        affine_epilogue_row(yp + off, xp + off, res ? res + off : nullptr, d.HW, scale, shift, relu);
      }
    }
  });
}

void group_norm_bwd_f32(const GroupNormBwdArgs& a) {
  NormDims d = norm_dims("group_norm backward", a.x);
  const int64_t G = a.groups, Cg = d.C / G, L = Cg * d.HW;
  const NormBwdPtrs bp = norm_bwd_ptrs(a.dx, a.dweight, a.dbias, a.dy, a.x, a.save_mean, a.save_invstd, a.weight);
  const float *xp = bp.x, *gy = bp.dy, *mean = bp.mean, *invstd = bp.invstd, *w = bp.w;
  const float* yp = a.relu ? a.y.data<float>() : nullptr;
  float *gx = bp.dx, *gw = bp.dw, *gb = bp.db, *gr = data_or_null<float>(a.dresidual);
  const bool relu = a.relu;
  // Per plane p = n * C + c: sum of g and of g * xhat (g: dy past the epilogue).
  std::vector<double> sdy(size_t(d.N * d.C)), sdyxh(size_t(d.N * d.C));
  parallel_ranges(d.N * d.C, blocks_of(d.HW), [&](int64_t p0, int64_t p1) {
    // The masked gradient of a plane, made once in a loop of its own (the masking inside the lane sums did not
    // vectorise: it made the fused pass twice as slow as a separate mask pass).
    std::vector<float> masked(relu ? size_t(d.HW) : 0);
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t s = p / Cg;
      const float *g = gy + p * d.HW, *r = xp + p * d.HW, m = mean[s];
      if (relu) {
        relu_mask_row(masked.data(), g, yp + p * d.HW, d.HW);
        g = masked.data();
      }
      sdy[size_t(p)] = lane_sum(d.HW, [&](int64_t i) { return g[i]; });
      sdyxh[size_t(p)] = double(invstd[s]) * lane_sum(d.HW, [&](int64_t i) { return g[i] * (r[i] - m); });
    }
  });
  for (int64_t c = 0; c < d.C; ++c) {
    double sa = 0, sb = 0;
    for (int64_t n = 0; n < d.N; ++n) {
      sa += sdy[size_t(n * d.C + c)];
      sb += sdyxh[size_t(n * d.C + c)];
    }
    if (gw) stat::store_grad(gw[c], float(sb), float(a.beta_w));
    if (gb) stat::store_grad(gb[c], float(sa), float(a.beta_b));
  }
  if (!gx && !gr) return;
  const float bx = float(a.beta_x), br = float(a.beta_r);
  parallel_ranges(d.N * G, blocks_of(L), [&](int64_t s0, int64_t s1) {
    std::vector<float> masked(relu ? size_t(d.HW) : 0);
    for (int64_t s = s0; s < s1; ++s) {
      const int64_t n = s / G, c0 = (s % G) * Cg;
      double sa = 0, sb = 0;
      for (int64_t c = c0; c < c0 + Cg; ++c) {
        const double wc = w ? double(w[c]) : 1.0;
        sa += wc * sdy[size_t(n * d.C + c)];
        sb += wc * sdyxh[size_t(n * d.C + c)];
      }
      // dx = invstd (w g - mean(w g) - xhat mean(w g xhat)) = (invstd w) g + kb (x - mean) + k.
      const double is = invstd[s];
      const float k = float(-is * sa / double(L)), kb = float(-is * is * sb / double(L)), m = mean[s];
      for (int64_t j = 0; j < Cg; ++j) {
        const int64_t c = c0 + j, off = s * L + j * d.HW;
        const float* g = gy + off;
        if (relu) {
          relu_mask_row(masked.data(), g, yp + off, d.HW);
          g = masked.data();
        }
        if (gr) store_grad_row(gr + off, g, d.HW, br);
        if (gx) input_grad_row(gx + off, g, xp + off, d.HW, float(is * (w ? double(w[c]) : 1.0)), kb, m, k, bx);
      }
    }
  });
}

}  // namespace sp::cpu
