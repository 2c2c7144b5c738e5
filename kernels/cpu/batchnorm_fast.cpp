// float32 batch normalisation, the CPU fast path (see batchnorm_fast.h). The reference's per-element Welford
// update (a division per element, one long dependency chain) took a sixth of a width-8 ResNet-18 training
// step on one core (perf); here each channel is a few streaming passes. The fused epilogue computes what
// batch norm, add and ReLU computed as separate ops, in the same float operations and order, so fusing does
// not change a bit.
#include "kernels/cpu/batchnorm_fast.h"

#include <vector>

#include "kernels/cpu/batchnorm_last.h"
#include "kernels/cpu/norm_ptrs.h"
#include "kernels/cpu/norm_rows.h"
#include "kernels/cpu/parallel.h"
#include "kernels/norm_math.h"
#include "kernels/stat_math.h"

namespace sp::cpu {

void batch_norm_fwd_f32(const BatchNormFwdArgs& a) {
  NormDims d = norm_dims("batch_norm", a.x);
  const NormFwdPtrs p =
      norm_fwd_ptrs(a.y, a.save_mean, a.save_invstd, a.x, a.weight, a.bias, a.running_mean, a.running_var);
  BnEpiloguePtrs e;
  e.residual = data_or_null<float>(a.residual);
  e.relu = a.relu;
  // Channels innermost (channels-last activations): one value per row here.
  if (d.HW == 1) return batch_norm_last_fwd(p, e, d.N, d.C, a.training, a.momentum, a.eps);
  const float *xp = p.x, *w = p.w, *b = p.b, *res = e.residual;
  float *yp = p.y, *mean = p.mean, *invstd = p.invstd, *rm = p.rm, *rv = p.rv;
  const bool training = a.training, relu = a.relu;
  const double M = double(d.N * d.HW), momentum = a.momentum, eps = a.eps;
  parallel_for(d.C, [&](int64_t c) {
    auto row = [&](int64_t n) { return (n * d.C + c) * d.HW; };
    if (training) {
      double s = 0;
      for (int64_t n = 0; n < d.N; ++n) {
        const float* r = xp + row(n);
        s += lane_sum(d.HW, [&](int64_t i) { return r[i]; });
      }
      const double m = s / M;
      const float mf = float(m);
      double ss = 0;
      for (int64_t n = 0; n < d.N; ++n) {
        const float* r = xp + row(n);
        ss += lane_sum(d.HW, [&](int64_t i) { float v = r[i] - mf; return v * v; });
      }
      const double var = centred_variance(ss, M, m, mf);
      mean[c] = mf;
      invstd[c] = float(norm_invstd<double>(var, eps));
      if (rm) {
        rm[c] = float(running_update<double>(rm[c], m, momentum));
        rv[c] = float(running_update<double>(rv[c], M > 1 ? var * M / (M - 1) : var, momentum));
      }
    } else {
      mean[c] = rm[c];
      invstd[c] = norm_invstd<float>(rv[c], float(eps));
    }
    const float scale = invstd[c] * (w ? w[c] : 1.f), shift = (b ? b[c] : 0.f) - mean[c] * scale;
    for (int64_t n = 0; n < d.N; ++n)
      affine_epilogue_row(yp + row(n), xp + row(n), res ? res + row(n) : nullptr, d.HW, scale, shift, relu);
  });
}

void batch_norm_bwd_f32(const BatchNormBwdArgs& a) {
  NormDims d = norm_dims("batch_norm backward", a.x);
  const NormBwdPtrs p = norm_bwd_ptrs(a.dx, a.dweight, a.dbias, a.dy, a.x, a.save_mean, a.save_invstd, a.weight);
  BnEpiloguePtrs e;
  e.y = a.relu ? a.y.data<float>() : nullptr;
  e.dresidual = data_or_null<float>(a.dresidual);
  e.relu = a.relu;
  e.beta_r = float(a.beta_r);
  if (d.HW == 1) return batch_norm_last_bwd(p, e, d.N, d.C, a.training, a.beta_x, a.beta_w, a.beta_b);
  const float *xp = p.x, *gy = p.dy, *mean = p.mean, *invstd = p.invstd, *w = p.w, *yp = e.y;
  float *gx = p.dx, *gw = p.dw, *gb = p.db, *gr = e.dresidual;
  const bool training = a.training, relu = a.relu;
  const double M = double(d.N * d.HW);
  const float bx = float(a.beta_x), br = e.beta_r, beta_w = float(a.beta_w), beta_b = float(a.beta_b);
  parallel_for(d.C, [&](int64_t c) {
    auto row = [&](int64_t n) { return (n * d.C + c) * d.HW; };
    const float mc = mean[c], is = invstd[c], wc = w ? w[c] : 1.f;
    double sdy = 0, sdyxc = 0;  // sums of g and of g * (x - mean) over the channel (g: dy past the epilogue)
    // A row's masked gradient is made in a loop of its own (masking inside the lane sums does not vectorise).
    std::vector<float> masked(relu ? size_t(d.HW) : 0);
    if ((training && gx) || gw || gb)
      for (int64_t n = 0; n < d.N; ++n) {
        const float *g = gy + row(n), *r = xp + row(n);
        if (relu) {
          relu_mask_row(masked.data(), g, yp + row(n), d.HW);
          g = masked.data();
        }
        sdy += lane_sum(d.HW, [&](int64_t i) { return g[i]; });
        sdyxc += lane_sum(d.HW, [&](int64_t i) { return g[i] * (r[i] - mc); });
      }
    const double sdyxh = sdyxc * double(is);
    if (gw) stat::store_grad(gw[c], float(sdyxh), beta_w);
    if (gb) stat::store_grad(gb[c], float(sdy), beta_b);
    if (!gx && !gr) return;
    // dx = invstd (w g - mean(w g) - xhat mean(w g xhat)) = a g + b (x - mean) + k.
    const float ka = is * wc;
    const float k = training ? float(-double(is) * double(wc) * sdy / M) : 0.f;
    const float kb = training ? float(-double(is) * double(is) * double(is) * double(wc) * sdyxc / M) : 0.f;
    for (int64_t n = 0; n < d.N; ++n) {
      const float* g = gy + row(n);
      if (relu) {
        relu_mask_row(masked.data(), g, yp + row(n), d.HW);
        g = masked.data();
      }
      if (gr) store_grad_row(gr + row(n), g, d.HW, br);
      if (gx) input_grad_row(gx + row(n), g, xp + row(n), d.HW, ka, kb, mc, k, bx);
    }
  });
}

}  // namespace sp::cpu
