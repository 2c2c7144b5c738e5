// CPU reference for group normalisation and its fused epilogue (see kernels/groupnorm.h). The backward works from per-(n, c)
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
void fwd_typed(const GroupNormFwdArgs& a) {
  NormDims d = norm_dims("group_norm", a.x);
  const int64_t G = a.groups, Cg = d.C / G, L = Cg * d.HW;  // channels and values per group
  const T* xp = a.x.data<T>();
  const T* res = data_or_null<T>(a.residual);
  T* yp = a.y.data<T>();
  T* mean = a.save_mean.data<T>();
  T* invstd = a.save_invstd.data<T>();
  const T* w = data_or_null<T>(a.weight);
  const T* b = data_or_null<T>(a.bias);
  // Groups are independent: blocks of them run on several threads (each group as on one).
  cpu::parallel_ranges(d.N * G, blocks_of(L), [&](int64_t s0, int64_t s1) {
    for (int64_t s = s0; s < s1; ++s) {  // s = n * G + g: the group's values are contiguous
      const T* xs = xp + s * L;
      stat::Welford<double> acc;
      for (int64_t i = 0; i < L; ++i) acc.push(double(xs[i]));
      mean[s] = T(acc.mean);
      invstd[s] = T(norm_invstd<double>(acc.var_biased(), a.eps));
      for (int64_t i = 0; i < L; ++i) {
        const int64_t c = (s % G) * Cg + i / d.HW, k = s * L + i;
        T v = norm_affine<T>(xs[i], mean[s], invstd[s], w ? w[c] : T(1), b ? b[c] : T(0));
        if (res) v += res[k];
        yp[k] = norm_epilogue(v, a.relu);
      }
    }
  });
}

void fwd_cpu(Stream&, const GroupNormFwdArgs& a) {
  if (a.x.dtype() == DType::f32 && cpu::fast_path()) return cpu::group_norm_fwd_f32(a);
  SP_DISPATCH_FLOAT(a.x.dtype(), "group_norm", fwd_typed<scalar_t>(a));
}

template <class T>
void bwd_typed(const GroupNormBwdArgs& a) {
  NormDims d = norm_dims("group_norm backward", a.x);
  const int64_t G = a.groups, Cg = d.C / G, L = Cg * d.HW;
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
  // The gradient past the epilogue at element k.
  auto grad = [&](int64_t k) { return norm_epilogue_grad<T>(dy[k], yp ? yp[k] : T(0), a.relu); };
  // Per plane p = n * C + c: sum of g and of g * xhat.
  std::vector<double> sdy(size_t(d.N * d.C)), sdyxh(size_t(d.N * d.C));
  cpu::parallel_ranges(d.N * d.C, blocks_of(d.HW), [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t s = p / Cg;  // = n * G + c / Cg
      double sa = 0, sb = 0;
      for (int64_t i = 0; i < d.HW; ++i) {
        const int64_t k = p * d.HW + i;
        const T g = grad(k);
        sa += double(g);
        sb += double(g * ((xp[k] - mean[s]) * invstd[s]));
      }
      sdy[p] = sa;
      sdyxh[p] = sb;
    }
  });
  for (int64_t c = 0; c < d.C; ++c) {
    double sa = 0, sb = 0;
    for (int64_t n = 0; n < d.N; ++n) {
      sa += sdy[n * d.C + c];
      sb += sdyxh[n * d.C + c];
    }
    if (gw) stat::store_grad(gw[c], T(sb), T(a.beta_w));
    if (gb) stat::store_grad(gb[c], T(sa), T(a.beta_b));
  }
  if (!gx && !gr) return;
  cpu::parallel_ranges(d.N * G, blocks_of(L), [&](int64_t s0, int64_t s1) {
    for (int64_t s = s0; s < s1; ++s) {
      const int64_t n = s / G, c0 = (s % G) * Cg;
      double sa = 0, sb = 0;
      for (int64_t c = c0; c < c0 + Cg; ++c) {
        const double wc = w ? double(w[c]) : 1.0;
        sa += wc * sdy[n * d.C + c];
        sb += wc * sdyxh[n * d.C + c];
      }
      const T mean_dxhat = T(sa / double(L)), mean_dxhat_xhat = T(sb / double(L));
      for (int64_t i = 0; i < L; ++i) {
        const int64_t k = s * L + i, c = c0 + i / d.HW;
        const T g = grad(k);
        if (gr) stat::store_grad(gr[k], g, T(a.beta_r));
        if (!gx) continue;
        const T xhat = (xp[k] - mean[s]) * invstd[s];
        stat::store_grad(gx[k], norm_backward_dx<T>(g, xhat, w ? w[c] : T(1), invstd[s], mean_dxhat, mean_dxhat_xhat),
                         T(a.beta_x));
      }
    }
  });
}

void bwd_cpu(Stream&, const GroupNormBwdArgs& a) {
  if (a.x.dtype() == DType::f32 && cpu::fast_path()) return cpu::group_norm_bwd_f32(a);
  SP_DISPATCH_FLOAT(a.x.dtype(), "group_norm backward", bwd_typed<scalar_t>(a));
}

}  // namespace
SP_REGISTER_KERNEL(k_group_norm_fwd, CPU, fwd_cpu);
SP_REGISTER_KERNEL(k_group_norm_bwd, CPU, bwd_cpu);
}  // namespace sp
