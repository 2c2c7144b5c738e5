// CPU reference for batch normalisation and its fused epilogue (see kernels/batchnorm.h): one channel at a
// time, statistics by Welford in double, per-element math from kernels/norm_math.h. float32 goes to the fast
// path (kernels/cpu/batchnorm_fast.h) when cpu::fast_path() is on.
#include "kernels/batchnorm.h"

#include "kernels/cpu/batchnorm_fast.h"
#include "kernels/cpu/fast_path.h"

#include "kernels/dispatch.h"
#include "kernels/norm_math.h"

namespace sp {
namespace {

template <class T>
void fwd_typed(const BatchNormFwdArgs& a) {
  NormDims d = norm_dims("batch_norm", a.x);
  const T* xp = a.x.data<T>();
  const T* res = data_or_null<T>(a.residual);
  T* yp = a.y.data<T>();
  T* mean = a.save_mean.data<T>();
  T* invstd = a.save_invstd.data<T>();
  const T* w = data_or_null<T>(a.weight);
  const T* b = data_or_null<T>(a.bias);
  T* rm = data_or_null<T>(a.running_mean);
  T* rv = data_or_null<T>(a.running_var);
  auto at = [&](int64_t n, int64_t c) { return (n * d.C + c) * d.HW; };
  for (int64_t c = 0; c < d.C; ++c) {
    if (a.training) {
      stat::Welford<double> acc;
      for (int64_t n = 0; n < d.N; ++n)
        for (int64_t i = 0; i < d.HW; ++i) acc.push(double(xp[at(n, c) + i]));
      mean[c] = T(acc.mean);
      invstd[c] = T(norm_invstd<double>(acc.var_biased(), a.eps));
      if (rm) {
        rm[c] = T(running_update<double>(rm[c], acc.mean, a.momentum));
        rv[c] = T(running_update<double>(rv[c], acc.var_unbiased(), a.momentum));
      }
    } else {
      mean[c] = rm[c];
      invstd[c] = norm_invstd<T>(rv[c], T(a.eps));
    }
    T wc = w ? w[c] : T(1), bc = b ? b[c] : T(0);
    for (int64_t n = 0; n < d.N; ++n)
      for (int64_t i = 0; i < d.HW; ++i) {
        const int64_t k = at(n, c) + i;
        T v = norm_affine<T>(xp[k], mean[c], invstd[c], wc, bc);
        if (res) v += res[k];
        yp[k] = norm_epilogue(v, a.relu);
      }
  }
}

void fwd_cpu(Stream&, const BatchNormFwdArgs& a) {
  if (a.x.dtype() == DType::f32 && cpu::fast_path()) return cpu::batch_norm_fwd_f32(a);
  SP_DISPATCH_FLOAT(a.x.dtype(), "batch_norm", fwd_typed<scalar_t>(a));
}

template <class T>
void bwd_typed(const BatchNormBwdArgs& a) {
  NormDims d = norm_dims("batch_norm backward", a.x);
  const T* xp = a.x.data<T>();
  const T* dy = a.dy.data<T>();
  const T* yp = data_or_null<T>(a.y);
  const T* mean = a.save_mean.data<T>();
  const T* invstd = a.save_invstd.data<T>();
  const T* w = data_or_null<T>(a.weight);
  T* gx = data_or_null<T>(a.dx);
  T* gw = data_or_null<T>(a.dweight);
  T* gb = data_or_null<T>(a.dbias);
  T* gr = data_or_null<T>(a.dresidual);
  const double M = double(d.N * d.HW);
  auto at = [&](int64_t n, int64_t c) { return (n * d.C + c) * d.HW; };
  // The gradient past the epilogue at element k.
  auto grad = [&](int64_t k) { return norm_epilogue_grad<T>(dy[k], yp ? yp[k] : T(0), a.relu); };
  for (int64_t c = 0; c < d.C; ++c) {
    T wc = w ? w[c] : T(1);
    double sdy = 0, sdyxh = 0;  // sum of g and of g * xhat over the channel
    if ((a.training && gx) || gw || gb)
      for (int64_t n = 0; n < d.N; ++n)
        for (int64_t i = 0; i < d.HW; ++i) {
          T g = grad(at(n, c) + i);
          sdy += double(g);
          sdyxh += double(g * ((xp[at(n, c) + i] - mean[c]) * invstd[c]));
        }
    if (gw) stat::store_grad(gw[c], T(sdyxh), T(a.beta_w));
    if (gb) stat::store_grad(gb[c], T(sdy), T(a.beta_b));
    T mean_dxhat = a.training ? T(double(wc) * sdy / M) : T(0);
    T mean_dxhat_xhat = a.training ? T(double(wc) * sdyxh / M) : T(0);
    for (int64_t n = 0; n < d.N; ++n)
      for (int64_t i = 0; i < d.HW; ++i) {
        int64_t k = at(n, c) + i;
        const T g = grad(k);
        if (gr) stat::store_grad(gr[k], g, T(a.beta_r));
        if (!gx) continue;
        T xhat = (xp[k] - mean[c]) * invstd[c];
        stat::store_grad(gx[k], norm_backward_dx<T>(g, xhat, wc, invstd[c], mean_dxhat, mean_dxhat_xhat),
                         T(a.beta_x));
      }
  }
}

void bwd_cpu(Stream&, const BatchNormBwdArgs& a) {
  if (a.x.dtype() == DType::f32 && cpu::fast_path()) return cpu::batch_norm_bwd_f32(a);
  SP_DISPATCH_FLOAT(a.x.dtype(), "batch_norm backward", bwd_typed<scalar_t>(a));
}

}  // namespace
SP_REGISTER_KERNEL(k_batch_norm_fwd, CPU, fwd_cpu);
SP_REGISTER_KERNEL(k_batch_norm_bwd, CPU, bwd_cpu);
}  // namespace sp
