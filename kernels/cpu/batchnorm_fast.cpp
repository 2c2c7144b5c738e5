// float32 batch normalisation, the CPU fast path (see batchnorm_fast.h). The reference's per-element Welford
// update (a division per element, one long dependency chain) took a sixth of a width-8 ResNet-18 training
// step on one core (perf); here each channel is a few streaming passes.
#include "kernels/cpu/batchnorm_fast.h"

#include "kernels/cpu/batchnorm_last.h"
#include "kernels/cpu/norm_ptrs.h"
#include "kernels/cpu/norm_rows.h"
#include "kernels/cpu/parallel.h"
#include "kernels/norm_math.h"
#include "kernels/stat_math.h"

namespace sp::cpu {

void batch_norm_fwd_f32(const Tensor& y, const Tensor& save_mean, const Tensor& save_invstd, const Tensor& x,
                        const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                        const Tensor& running_var, bool training, double momentum, double eps) {
  NormDims d = norm_dims("batch_norm", x);
  const NormFwdPtrs p = norm_fwd_ptrs(y, save_mean, save_invstd, x, weight, bias, running_mean, running_var);
  // Channels innermost (channels-last activations): one value per row here.
  if (d.HW == 1) return batch_norm_last_fwd(p, d.N, d.C, training, momentum, eps);
  const float *xp = p.x, *w = p.w, *b = p.b;
  float *yp = p.y, *mean = p.mean, *invstd = p.invstd, *rm = p.rm, *rv = p.rv;
  const double M = double(d.N * d.HW);
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
    for (int64_t n = 0; n < d.N; ++n) affine_row(yp + row(n), xp + row(n), d.HW, scale, shift);
  });
}

void batch_norm_bwd_f32(const Tensor& dx, const Tensor& dweight, const Tensor& dbias, const Tensor& dy,
                        const Tensor& x, const Tensor& save_mean, const Tensor& save_invstd, const Tensor& weight,
                        bool training, double beta_x, double beta_w, double beta_b) {
  NormDims d = norm_dims("batch_norm backward", x);
  const NormBwdPtrs p = norm_bwd_ptrs(dx, dweight, dbias, dy, x, save_mean, save_invstd, weight);
  if (d.HW == 1) return batch_norm_last_bwd(p, d.N, d.C, training, beta_x, beta_w, beta_b);
  const float *xp = p.x, *gy = p.dy, *mean = p.mean, *invstd = p.invstd, *w = p.w;
  float *gx = p.dx, *gw = p.dw, *gb = p.db;
  const double M = double(d.N * d.HW);
  const float bx = float(beta_x);
  parallel_for(d.C, [&](int64_t c) {
    auto row = [&](int64_t n) { return (n * d.C + c) * d.HW; };
    const float mc = mean[c], is = invstd[c], wc = w ? w[c] : 1.f;
    double sdy = 0, sdyxc = 0;  // sums of dy and of dy * (x - mean) over the channel
    if (training || gw || gb)
      for (int64_t n = 0; n < d.N; ++n) {
        const float *g = gy + row(n), *r = xp + row(n);
        sdy += lane_sum(d.HW, [&](int64_t i) { return g[i]; });
        sdyxc += lane_sum(d.HW, [&](int64_t i) { return g[i] * (r[i] - mc); });
      }
    const double sdyxh = sdyxc * double(is);
    if (gw) stat::store_grad(gw[c], float(sdyxh), float(beta_w));
    if (gb) stat::store_grad(gb[c], float(sdy), float(beta_b));
    if (!gx) return;
    // dx = invstd (w dy - mean(w dy) - xhat mean(w dy xhat)) = a dy + b (x - mean) + k.
    const float a = is * wc;
    const float k = training ? float(-double(is) * double(wc) * sdy / M) : 0.f;
    const float bb = training ? float(-double(is) * double(is) * double(is) * double(wc) * sdyxc / M) : 0.f;
    for (int64_t n = 0; n < d.N; ++n) input_grad_row(gx + row(n), gy + row(n), xp + row(n), d.HW, a, bb, mc, k, bx);
  });
}

}  // namespace sp::cpu
