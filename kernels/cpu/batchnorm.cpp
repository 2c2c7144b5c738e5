// CPU reference for batch normalisation (see kernels/batchnorm.h): one channel at a time, statistics by
// Welford in double, per-element math from kernels/norm_math.h. float32 goes to the fast path
// (kernels/cpu/batchnorm_fast.h) when cpu::fast_path() is on.
#include "kernels/batchnorm.h"

#include "kernels/cpu/batchnorm_fast.h"
#include "kernels/cpu/fast_path.h"

#include "kernels/dispatch.h"
#include "kernels/norm_math.h"

namespace sp {
namespace {

template <class T>
void fwd_typed(const Tensor& y, const Tensor& save_mean, const Tensor& save_invstd, const Tensor& x,
               const Tensor& weight, const Tensor& bias, const Tensor& running_mean, const Tensor& running_var,
               bool training, double momentum, double eps) {
  NormDims d = norm_dims("batch_norm", x);
  const T* xp = x.data<T>();
  T* yp = y.data<T>();
  T* mean = save_mean.data<T>();
  T* invstd = save_invstd.data<T>();
  const T* w = data_or_null<T>(weight);
  const T* b = data_or_null<T>(bias);
  T* rm = data_or_null<T>(running_mean);
  T* rv = data_or_null<T>(running_var);
  auto at = [&](int64_t n, int64_t c) { return (n * d.C + c) * d.HW; };
  for (int64_t c = 0; c < d.C; ++c) {
    if (training) {
      stat::Welford<double> acc;
      for (int64_t n = 0; n < d.N; ++n)
        for (int64_t i = 0; i < d.HW; ++i) acc.push(double(xp[at(n, c) + i]));
      mean[c] = T(acc.mean);
      invstd[c] = T(norm_invstd<double>(acc.var_biased(), eps));
      if (rm) {
        rm[c] = T(running_update<double>(rm[c], acc.mean, momentum));
        rv[c] = T(running_update<double>(rv[c], acc.var_unbiased(), momentum));
      }
    } else {
      mean[c] = rm[c];
      invstd[c] = norm_invstd<T>(rv[c], T(eps));
    }
    T wc = w ? w[c] : T(1), bc = b ? b[c] : T(0);
    for (int64_t n = 0; n < d.N; ++n)
      for (int64_t i = 0; i < d.HW; ++i)
        yp[at(n, c) + i] = norm_affine<T>(xp[at(n, c) + i], mean[c], invstd[c], wc, bc);
  }
}

void fwd_cpu(Stream&, const Tensor& y, const Tensor& save_mean, const Tensor& save_invstd, const Tensor& x,
             const Tensor& weight, const Tensor& bias, const Tensor& running_mean, const Tensor& running_var,
             bool training, double momentum, double eps) {
  if (x.dtype() == DType::f32 && cpu::fast_path())
    return cpu::batch_norm_fwd_f32(y, save_mean, save_invstd, x, weight, bias, running_mean, running_var, training,
                                   momentum, eps);
  SP_DISPATCH_FLOAT(x.dtype(), "batch_norm",
                    fwd_typed<scalar_t>(y, save_mean, save_invstd, x, weight, bias, running_mean, running_var, training,
                                        momentum, eps));
}

template <class T>
void bwd_typed(const Tensor& dx, const Tensor& dweight, const Tensor& dbias, const Tensor& dy, const Tensor& x,
               const Tensor& save_mean, const Tensor& save_invstd, const Tensor& weight, bool training, double beta_x,
               double beta_w, double beta_b) {
  NormDims d = norm_dims("batch_norm backward", x);
  const T* xp = x.data<T>();
  const T* gy = dy.data<T>();
  const T* mean = save_mean.data<T>();
  const T* invstd = save_invstd.data<T>();
  const T* w = data_or_null<T>(weight);
  T* gx = data_or_null<T>(dx);
  T* gw = data_or_null<T>(dweight);
  T* gb = data_or_null<T>(dbias);
  const double M = double(d.N * d.HW);
  auto at = [&](int64_t n, int64_t c) { return (n * d.C + c) * d.HW; };
  for (int64_t c = 0; c < d.C; ++c) {
    T wc = w ? w[c] : T(1);
    double sdy = 0, sdyxh = 0;  // sum of dy and of dy * xhat over the channel
    if (training || gw || gb)
      for (int64_t n = 0; n < d.N; ++n)
        for (int64_t i = 0; i < d.HW; ++i) {
          T g = gy[at(n, c) + i];
          sdy += double(g);
          sdyxh += double(g * ((xp[at(n, c) + i] - mean[c]) * invstd[c]));
        }
    if (gw) stat::store_grad(gw[c], T(sdyxh), T(beta_w));
    if (gb) stat::store_grad(gb[c], T(sdy), T(beta_b));
    if (!gx) continue;
    T mean_dxhat = training ? T(double(wc) * sdy / M) : T(0);
    T mean_dxhat_xhat = training ? T(double(wc) * sdyxh / M) : T(0);
    for (int64_t n = 0; n < d.N; ++n)
      for (int64_t i = 0; i < d.HW; ++i) {
        int64_t k = at(n, c) + i;
        T xhat = (xp[k] - mean[c]) * invstd[c];
        stat::store_grad(gx[k], norm_backward_dx<T>(gy[k], xhat, wc, invstd[c], mean_dxhat, mean_dxhat_xhat),
                         T(beta_x));
      }
  }
}

void bwd_cpu(Stream&, const Tensor& dx, const Tensor& dweight, const Tensor& dbias, const Tensor& dy, const Tensor& x,
             const Tensor& save_mean, const Tensor& save_invstd, const Tensor& weight, bool training, double beta_x,
             double beta_w, double beta_b) {
  if (x.dtype() == DType::f32 && cpu::fast_path())
    return cpu::batch_norm_bwd_f32(dx, dweight, dbias, dy, x, save_mean, save_invstd, weight, training, beta_x, beta_w,
                                   beta_b);
  SP_DISPATCH_FLOAT(
      x.dtype(), "batch_norm backward",
      bwd_typed<scalar_t>(dx, dweight, dbias, dy, x, save_mean, save_invstd, weight, training, beta_x, beta_w, beta_b));
}

}  // namespace
SP_REGISTER_KERNEL(k_batch_norm_fwd, CPU, fwd_cpu);
SP_REGISTER_KERNEL(k_batch_norm_bwd, CPU, bwd_cpu);
}  // namespace sp
