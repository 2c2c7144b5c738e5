// CPU reference for group normalisation (see kernels/groupnorm.h). The backward works from per-(n, c)
// sums of dy and dy * xhat: the weight/bias gradients sum them over n, and each group's input gradient
// needs their weighted sums over the group's channels (kernels/norm_math.h, norm_backward_dx). Groups and
// planes are independent and run in blocks on several threads, each computed as on one. float32 goes to the
// fast path (kernels/cpu/groupnorm_fast.h) when cpu::fast_path() is on.
#include "kernels/groupnorm.h"

#include <algorithm>
#include <vector>

#include "kernels/cpu/fast_path.h"
#include "kernels/cpu/groupnorm_fast.h"
#include "kernels/cpu/parallel.h"
#include "kernels/dispatch.h"
#include "kernels/norm_math.h"

namespace sp {
namespace {

// Items of `values` each per parallel block: at least ~32k values, so a block pays for its hand-off.
int64_t blocks_of(int64_t values) { return std::max<int64_t>(1, (int64_t(1) << 15) / std::max<int64_t>(1, values)); }

template <class T>
void fwd_typed(const Tensor& y, const Tensor& save_mean, const Tensor& save_invstd, const Tensor& x,
               const Tensor& weight, const Tensor& bias, int64_t G, double eps) {
  NormDims d = norm_dims("group_norm", x);
  const int64_t Cg = d.C / G, L = Cg * d.HW;  // channels and values per group
  const T* xp = x.data<T>();
  T* yp = y.data<T>();
  T* mean = save_mean.data<T>();
  T* invstd = save_invstd.data<T>();
  const T* w = data_or_null<T>(weight);
  const T* b = data_or_null<T>(bias);
  // Groups are independent: blocks of them run on several threads (each group as on one).
  cpu::parallel_ranges(d.N * G, blocks_of(L), [&](int64_t s0, int64_t s1) {
    for (int64_t s = s0; s < s1; ++s) {  // s = n * G + g: the group's values are contiguous
      const T* xs = xp + s * L;
      stat::Welford<double> acc;
      for (int64_t i = 0; i < L; ++i) acc.push(double(xs[i]));
      mean[s] = T(acc.mean);
      invstd[s] = T(norm_invstd<double>(acc.var_biased(), eps));
      for (int64_t i = 0; i < L; ++i) {
        int64_t c = (s % G) * Cg + i / d.HW;
        yp[s * L + i] = norm_affine<T>(xs[i], mean[s], invstd[s], w ? w[c] : T(1), b ? b[c] : T(0));
      }
    }
  });
}

void fwd_cpu(Stream&, const Tensor& y, const Tensor& save_mean, const Tensor& save_invstd, const Tensor& x,
             const Tensor& weight, const Tensor& bias, int64_t groups, double eps) {
  if (x.dtype() == DType::f32 && cpu::fast_path())
    return cpu::group_norm_fwd_f32(y, save_mean, save_invstd, x, weight, bias, groups, eps);
  SP_DISPATCH_FLOAT(x.dtype(), "group_norm",
                    fwd_typed<scalar_t>(y, save_mean, save_invstd, x, weight, bias, groups, eps));
}

template <class T>
void bwd_typed(const Tensor& dx, const Tensor& dweight, const Tensor& dbias, const Tensor& dy, const Tensor& x,
               const Tensor& save_mean, const Tensor& save_invstd, const Tensor& weight, int64_t G, double beta_x,
               double beta_w, double beta_b) {
  NormDims d = norm_dims("group_norm backward", x);
  const int64_t Cg = d.C / G, L = Cg * d.HW;
  const T* xp = x.data<T>();
  const T* gy = dy.data<T>();
  const T* mean = save_mean.data<T>();
  const T* invstd = save_invstd.data<T>();
  const T* w = data_or_null<T>(weight);
  T* gx = data_or_null<T>(dx);
  T* gw = data_or_null<T>(dweight);
  T* gb = data_or_null<T>(dbias);
  // Per plane p = n * C + c: sum of dy and of dy * xhat.
  std::vector<double> sdy(size_t(d.N * d.C)), sdyxh(size_t(d.N * d.C));
  cpu::parallel_ranges(d.N * d.C, blocks_of(d.HW), [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t s = p / Cg;  // = n * G + c / Cg
      double a = 0, b = 0;
      for (int64_t i = 0; i < d.HW; ++i) {
        const int64_t k = p * d.HW + i;
        a += double(gy[k]);
        b += double(gy[k] * ((xp[k] - mean[s]) * invstd[s]));
      }
      sdy[p] = a;
      sdyxh[p] = b;
    }
  });
  for (int64_t c = 0; c < d.C; ++c) {
    double a = 0, b = 0;
    for (int64_t n = 0; n < d.N; ++n) {
      a += sdy[n * d.C + c];
      b += sdyxh[n * d.C + c];
    }
    if (gw) stat::store_grad(gw[c], T(b), T(beta_w));
    if (gb) stat::store_grad(gb[c], T(a), T(beta_b));
  }
  if (!gx) return;
  cpu::parallel_ranges(d.N * G, blocks_of(L), [&](int64_t s0, int64_t s1) {
    for (int64_t s = s0; s < s1; ++s) {
      const int64_t n = s / G, c0 = (s % G) * Cg;
      double a = 0, b = 0;
      for (int64_t c = c0; c < c0 + Cg; ++c) {
        const double wc = w ? double(w[c]) : 1.0;
        a += wc * sdy[n * d.C + c];
        b += wc * sdyxh[n * d.C + c];
      }
      const T mean_dxhat = T(a / double(L)), mean_dxhat_xhat = T(b / double(L));
      for (int64_t i = 0; i < L; ++i) {
        const int64_t k = s * L + i, c = c0 + i / d.HW;
        const T xhat = (xp[k] - mean[s]) * invstd[s];
        stat::store_grad(gx[k], norm_backward_dx<T>(gy[k], xhat, w ? w[c] : T(1), invstd[s], mean_dxhat, mean_dxhat_xhat),
                         T(beta_x));
      }
    }
  });
}

void bwd_cpu(Stream&, const Tensor& dx, const Tensor& dweight, const Tensor& dbias, const Tensor& dy, const Tensor& x,
             const Tensor& save_mean, const Tensor& save_invstd, const Tensor& weight, int64_t groups, double beta_x,
             double beta_w, double beta_b) {
  if (x.dtype() == DType::f32 && cpu::fast_path())
    return cpu::group_norm_bwd_f32(dx, dweight, dbias, dy, x, save_mean, save_invstd, weight, groups, beta_x, beta_w,
                                   beta_b);
  SP_DISPATCH_FLOAT(
      x.dtype(), "group_norm backward",
      bwd_typed<scalar_t>(dx, dweight, dbias, dy, x, save_mean, save_invstd, weight, groups, beta_x, beta_w, beta_b));
}

}  // namespace
SP_REGISTER_KERNEL(k_group_norm_fwd, CPU, fwd_cpu);
SP_REGISTER_KERNEL(k_group_norm_bwd, CPU, bwd_cpu);
}  // namespace sp
