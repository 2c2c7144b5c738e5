// CUDA group normalisation (see kernels/groupnorm.h); compared with the CPU reference in
// tests/gpu/test_ops_norm_gpu.cpp. A (sample, group) is a contiguous segment of (C/G)*HW values, and a
// (sample, channel) plane one of HW values: both are reduced by one warp when short (instance norm at
// 32x32 has 32768 segments of 1024) or by a whole block when long (G = 1). The backward reduces each plane
// to sums of dy and dy * xhat once; weight/bias gradients and the per-group coefficients of the input
// gradient are then small passes over those [N, C] sums, and dx is one elementwise pass. The fused epilogue
// (residual, ReLU: kernels/groupnorm.h) rides in the elementwise passes; the plane sums mask dy by the saved
// output, and the dx pass also writes the residual's gradient.
#include "kernels/cuda/cuda_context.h"
#include "kernels/cuda/norm_reduce.cuh"
#include "kernels/dispatch.h"
#include "kernels/groupnorm.h"
#include "kernels/norm_math.h"

namespace sp {
namespace {

// Segments longer than this get a block each, shorter ones a warp.
constexpr int64_t kWarpSegmentMax = 1024;

// Launch geometry for `count` segments with kSeg threads each in blocks of kBlock threads.
template <int kSeg>
unsigned segment_blocks(int64_t count) {
  constexpr int64_t per_block = kBlock / kSeg;
  return unsigned((count + per_block - 1) / per_block);
}

template <class T, int kSeg>
__global__ void stats_kernel(const T* __restrict__ x, int64_t segs, int64_t len, T* __restrict__ mean,
                             T* __restrict__ invstd, T eps) {
  const int64_t seg = blockIdx.x * int64_t(kBlock / kSeg) + threadIdx.x / kSeg;
  const int lane = threadIdx.x % kSeg;
  stat::Welford<T> w;
  if (seg < segs)
    for (int64_t i = lane; i < len; i += kSeg) w.push(x[seg * len + i]);
  w = reduce::seg_welford<kSeg>(w);  // every thread takes part (block-wide syncs)
  if (lane == 0 && seg < segs) {
    mean[seg] = w.mean;
    invstd[seg] = norm_invstd(w.var_biased(), eps);
  }
}

template <class T>
__global__ void apply_kernel(T* __restrict__ y, const T* __restrict__ x, const T* __restrict__ mean,
                             const T* __restrict__ invstd, const T* __restrict__ w, const T* __restrict__ b,
                             const T* __restrict__ residual, bool relu, IndexDiv by_group_len, ChannelOf channel,
                             int64_t total) {
  for (int64_t k = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; k < total; k += int64_t(gridDim.x) * blockDim.x) {
    const int64_t s = by_group_len.div(k), c = channel(k);
    T v = norm_affine(x[k], mean[s], invstd[s], w ? w[c] : T(1), b ? b[c] : T(0));
    if (residual) v += residual[k];
    y[k] = norm_epilogue(v, relu);
  }
}

void fwd_cuda(Stream& st, const GroupNormFwdArgs& a) {
  const Tensor &y = a.y, &save_mean = a.save_mean, &save_invstd = a.save_invstd, &x = a.x, &weight = a.weight,
               &bias = a.bias;
  const int64_t groups = a.groups;
  const double eps = a.eps;
  const NormDims d = norm_dims("group_norm", x);
  const int64_t segs = d.N * groups, len = d.C / groups * d.HW;
  cudaStream_t cs = cuda_stream(st);
  SP_DISPATCH_FLOAT(x.dtype(), "group_norm", {
    using T = scalar_t;
    if (len <= kWarpSegmentMax)
      stats_kernel<T, 32><<<segment_blocks<32>(segs), kBlock, 0, cs>>>(x.data<T>(), segs, len, save_mean.data<T>(),
                                                                       save_invstd.data<T>(), T(eps));
    else
      stats_kernel<T, kBlock><<<segment_blocks<kBlock>(segs), kBlock, 0, cs>>>(
          x.data<T>(), segs, len, save_mean.data<T>(), save_invstd.data<T>(), T(eps));
    SP_CUDA_LAUNCH_CHECK();
    apply_kernel<T><<<grid_1d(d.numel()), kBlock, 0, cs>>>(
        y.data<T>(), x.data<T>(), save_mean.data<T>(), save_invstd.data<T>(), data_or_null<T>(weight),
        data_or_null<T>(bias), data_or_null<T>(a.residual), a.relu, IndexDiv(len, d.numel()), ChannelOf(d),
        d.numel());
    SP_CUDA_LAUNCH_CHECK();
  });
}

// sums[p] = sum of g, sums[planes + p] = sum of g * xhat over plane p = n * C + c, g = dy past the epilogue
// (y: the forward's output when it had a ReLU, else nullptr).
template <class T, int kSeg>
__global__ void plane_sums_kernel(const T* __restrict__ dy, const T* __restrict__ y, const T* __restrict__ x,
                                  const T* __restrict__ mean, const T* __restrict__ invstd, int64_t planes, int64_t hw,
                                  int64_t channels_per_group, T* __restrict__ sums) {
  const int64_t p = blockIdx.x * int64_t(kBlock / kSeg) + threadIdx.x / kSeg;
  const int lane = threadIdx.x % kSeg;
  T sdy = 0, sdyxh = 0;
  if (p < planes) {
    const int64_t s = p / channels_per_group;  // = n * G + c / (C/G)
    const T m = mean[s], inv = invstd[s];
    for (int64_t i = lane; i < hw; i += kSeg) {
      const T g = y ? norm_epilogue_grad(dy[p * hw + i], y[p * hw + i], true) : dy[p * hw + i];
      sdy += g;
      sdyxh += g * ((x[p * hw + i] - m) * inv);
    }
  }
  reduce::seg_sum2<kSeg>(sdy, sdyxh);
  if (lane == 0 && p < planes) {
    sums[p] = sdy;
    sums[planes + p] = sdyxh;
  }
}

template <class T>
__global__ void param_grads_kernel(const T* __restrict__ sums, int64_t N, int64_t C, T* dweight, T* dbias, T beta_w,
                                   T beta_b) {
  const int64_t planes = N * C;
  for (int64_t c = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; c < C; c += int64_t(gridDim.x) * blockDim.x) {
    T sdy = 0, sdyxh = 0;
    for (int64_t n = 0; n < N; ++n) {
      sdy += sums[n * C + c];
      sdyxh += sums[planes + n * C + c];
    }
    if (dweight) stat::store_grad(dweight[c], sdyxh, beta_w);
    if (dbias) stat::store_grad(dbias[c], sdy, beta_b);
  }
}

// coef[s] = mean of dxhat, coef[segs + s] = mean of dxhat * xhat over segment s = n * G + g.
template <class T>
__global__ void group_coeffs_kernel(const T* __restrict__ sums, const T* __restrict__ w, int64_t N, int64_t C,
                                    int64_t G, T inv_len, T* __restrict__ coef) {
  const int64_t segs = N * G, planes = N * C, cg = C / G;
  for (int64_t s = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; s < segs; s += int64_t(gridDim.x) * blockDim.x) {
    const int64_t n = s / G, c0 = (s - n * G) * cg;
    T a = 0, b = 0;
    for (int64_t c = c0; c < c0 + cg; ++c) {
      const T wc = w ? w[c] : T(1);
      a += wc * sums[n * C + c];
      b += wc * sums[planes + n * C + c];
    }
    coef[s] = a * inv_len;
    coef[segs + s] = b * inv_len;
  }
}

// The input and residual gradients (either may be nullptr); y: as plane_sums_kernel.
template <class T>
struct DxArgs {
  T* dx;
  T* dres;
  const T *dy, *y, *x, *mean, *invstd, *w, *coef;
  int64_t segs;
  T beta_x, beta_r;
};

template <class T>
__global__ void dx_kernel(DxArgs<T> a, IndexDiv by_group_len, ChannelOf channel, int64_t total) {
  for (int64_t k = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; k < total; k += int64_t(gridDim.x) * blockDim.x) {
    const T g = a.y ? norm_epilogue_grad(a.dy[k], a.y[k], true) : a.dy[k];
    if (a.dres) stat::store_grad(a.dres[k], g, a.beta_r);
    if (!a.dx) continue;
    const int64_t s = by_group_len.div(k), c = channel(k);
    const T inv = a.invstd[s], xhat = (a.x[k] - a.mean[s]) * inv;
    stat::store_grad(a.dx[k], norm_backward_dx(g, xhat, a.w ? a.w[c] : T(1), inv, a.coef[s], a.coef[a.segs + s]),
                     a.beta_x);
  }
}

void bwd_cuda(Stream& st, const GroupNormBwdArgs& a) {
  const Tensor &dx = a.dx, &dweight = a.dweight, &dbias = a.dbias, &dy = a.dy, &x = a.x, &save_mean = a.save_mean,
               &save_invstd = a.save_invstd, &weight = a.weight;
  const int64_t groups = a.groups;
  const NormDims d = norm_dims("group_norm backward", x);
  const int64_t planes = d.N * d.C, segs = d.N * groups, cg = d.C / groups, len = cg * d.HW;
  cudaStream_t cs = cuda_stream(st);
  SP_DISPATCH_FLOAT(x.dtype(), "group_norm backward", {
    using T = scalar_t;
    const T* masked_by = a.relu ? a.y.data<T>() : nullptr;
    Tensor sums = Tensor::empty({2, planes}, x.dtype(), st);
    if (dx.defined() || dweight.defined() || dbias.defined()) {
      if (d.HW <= kWarpSegmentMax)
        plane_sums_kernel<T, 32><<<segment_blocks<32>(planes), kBlock, 0, cs>>>(
            dy.data<T>(), masked_by, x.data<T>(), save_mean.data<T>(), save_invstd.data<T>(), planes, d.HW, cg,
            sums.data<T>());
      else
        plane_sums_kernel<T, kBlock><<<segment_blocks<kBlock>(planes), kBlock, 0, cs>>>(
            dy.data<T>(), masked_by, x.data<T>(), save_mean.data<T>(), save_invstd.data<T>(), planes, d.HW, cg,
            sums.data<T>());
      SP_CUDA_LAUNCH_CHECK();
    }
    if (dweight.defined() || dbias.defined()) {
      param_grads_kernel<T><<<grid_1d(d.C), kBlock, 0, cs>>>(sums.data<T>(), d.N, d.C, data_or_null<T>(dweight),
                                                             data_or_null<T>(dbias), T(a.beta_w), T(a.beta_b));
      SP_CUDA_LAUNCH_CHECK();
    }
    if (dx.defined() || a.dresidual.defined()) {
      Tensor coef;
      if (dx.defined()) {
        coef = Tensor::empty({2, segs}, x.dtype(), st);
        group_coeffs_kernel<T><<<grid_1d(segs), kBlock, 0, cs>>>(sums.data<T>(), data_or_null<T>(weight), d.N, d.C,
                                                                 groups, T(1.0 / double(len)), coef.data<T>());
        SP_CUDA_LAUNCH_CHECK();
      }
      DxArgs<T> k;
      k.dx = data_or_null<T>(dx);
      k.dres = data_or_null<T>(a.dresidual);
      k.dy = dy.data<T>();
      k.y = masked_by;
      k.x = x.data<T>();
      k.mean = save_mean.data<T>();
      k.invstd = save_invstd.data<T>();
      k.w = data_or_null<T>(weight);
      k.coef = dx.defined() ? coef.data<T>() : nullptr;
      k.segs = segs;
      k.beta_x = T(a.beta_x);
      k.beta_r = T(a.beta_r);
      dx_kernel<T><<<grid_1d(d.numel()), kBlock, 0, cs>>>(k, IndexDiv(len, d.numel()), ChannelOf(d), d.numel());
      SP_CUDA_LAUNCH_CHECK();
    }
  });
}

}  // namespace
SP_REGISTER_KERNEL(k_group_norm_fwd, CUDA, fwd_cuda);
SP_REGISTER_KERNEL(k_group_norm_bwd, CUDA, bwd_cuda);
}  // namespace sp
