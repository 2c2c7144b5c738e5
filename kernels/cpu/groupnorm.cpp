// CPU reference for group normalisation (see kernels/groupnorm.h). The backward works from per-(n, c)
// sums of dy and dy * xhat: the weight/bias gradients sum them over n, and each group's input gradient
// needs their weighted sums over the group's channels (kernels/norm_math.h, norm_backward_dx).
#include "kernels/groupnorm.h"

#include <vector>

#include "kernels/dispatch.h"
#include "kernels/norm_math.h"

namespace sp {
namespace {

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
  for (int64_t s = 0; s < d.N * G; ++s) {  // s = n * G + g: the group's values are contiguous
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
}

void fwd_cpu(Stream&, const Tensor& y, const Tensor& save_mean, const Tensor& save_invstd, const Tensor& x,
             const Tensor& weight, const Tensor& bias, int64_t groups, double eps) {
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
  for (int64_t p = 0; p < d.N * d.C; ++p) {
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
  for (int64_t s = 0; s < d.N * G; ++s) {
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
}

void bwd_cpu(Stream&, const Tensor& dx, const Tensor& dweight, const Tensor& dbias, const Tensor& dy, const Tensor& x,
             const Tensor& save_mean, const Tensor& save_invstd, const Tensor& weight, int64_t groups, double beta_x,
             double beta_w, double beta_b) {
  SP_DISPATCH_FLOAT(
      x.dtype(), "group_norm backward",
      bwd_typed<scalar_t>(dx, dweight, dbias, dy, x, save_mean, save_invstd, weight, groups, beta_x, beta_w, beta_b));
}

}  // namespace
SP_REGISTER_KERNEL(k_group_norm_fwd, CPU, fwd_cpu);
SP_REGISTER_KERNEL(k_group_norm_bwd, CPU, bwd_cpu);
}  // namespace sp
