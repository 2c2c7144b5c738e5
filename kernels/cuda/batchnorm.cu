// CUDA batch normalisation (see kernels/batchnorm.h); compared with the CPU reference in
// tests/gpu/test_ops_norm_gpu.cpp. Per-channel reductions run in two kernels: a (C x splits) grid where
// each block folds a contiguous slice of the channel's N*HW values (Welford for the statistics, plain
// sums for the backward), then one thread per channel merges the slices in a fixed order. Splitting keeps
// the GPU full when C is small (C = 64 at ResNet-18's first stage is only 64 blocks otherwise). The
// elementwise passes use IndexDiv for the channel of each element. Channels innermost ([M, C]: channels-last
// batch norm's view of [N, H, W, C], see nn/ops_norm.h) take other partial kernels, whose blocks are 32
// neighbouring channels by 8 rows, so a warp reads 32 consecutive values of one row; the finalising kernels
// and the elementwise passes are shared. The fused epilogue (residual, ReLU: kernels/batchnorm.h) rides in
// the elementwise pass forward; backward, the partial sums and the input-gradient pass mask dy by the saved
// output, and the latter also writes the residual's gradient.
#include <algorithm>

#include "kernels/batchnorm.h"
#include "kernels/cuda/cuda_context.h"
#include "kernels/cuda/norm_reduce.cuh"
#include "kernels/dispatch.h"
#include "kernels/norm_math.h"

namespace sp {
namespace {

using stat::Welford;

// Slices per channel: about 16 values per thread per slice, at most 64 slices.
int channel_splits(int64_t per_channel) {
  return int(std::clamp<int64_t>(per_channel / (int64_t(kBlock) * 16), 1, 64));
}

// Geometry of one split channel reduction: block (c, s) covers values [s*chunk, min(M, (s+1)*chunk)) of
// channel c, value j living at x[(n*C + c)*HW + j - n*HW] with n = j / HW.
struct ChannelSlices {
  int64_t C, HW, M, chunk;
  int splits;
  IndexDiv by_hw;
  ChannelSlices(const NormDims& d)
      : C(d.C), HW(d.HW), M(d.N * d.HW), splits(channel_splits(d.N * d.HW)), by_hw(d.HW, d.N * d.HW) {
    chunk = (M + splits - 1) / splits;
  }
  dim3 grid() const { return dim3(unsigned(C), unsigned(splits)); }
};

template <class T>
__global__ void partial_stats_kernel(const T* __restrict__ x, ChannelSlices g, T* __restrict__ part) {
  const int64_t c = blockIdx.x, s = blockIdx.y, j0 = s * g.chunk;
  const int64_t j1 = j0 + g.chunk < g.M ? j0 + g.chunk : g.M;
  Welford<T> w;
  for (int64_t j = j0 + threadIdx.x; j < j1; j += blockDim.x) {
    int64_t n = g.by_hw.div(j);
    w.push(x[(n * g.C + c) * g.HW + (j - n * g.HW)]);
  }
  w = reduce::block_welford(w);
  if (threadIdx.x == 0) {
    const int64_t k = c * g.splits + s, cs = g.C * g.splits;
    part[k] = w.n;
    part[cs + k] = w.mean;
    part[2 * cs + k] = w.m2;
  }
}

// Channels innermost (HW == 1): block (cb, s) covers rows [s*chunk, min(M, (s+1)*chunk)) of channels
// cb*kLanes + [0, kLanes); thread (tx, ty) folds every kRows-th row of channel cb*kLanes + tx from ty, and the
// kRows partials of a channel are merged in a fixed order through shared memory.
constexpr int kLanes = 32, kRows = 8;
struct RowSlices {
  int64_t C, M, chunk;
  int splits;
  explicit RowSlices(const NormDims& d)
      : C(d.C), M(d.N), splits(int(std::clamp<int64_t>(d.N / (int64_t(kRows) * 64), 1, 64))) {
    chunk = (M + splits - 1) / splits;
  }
  dim3 grid() const { return dim3(unsigned((C + kLanes - 1) / kLanes), unsigned(splits)); }
  static dim3 block() { return dim3(kLanes, kRows); }
};

template <class T>
__global__ void partial_stats_last_kernel(const T* __restrict__ x, RowSlices g, T* __restrict__ part) {
  __shared__ T sh[3][kRows][kLanes];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int64_t c = blockIdx.x * int64_t(kLanes) + tx, s = blockIdx.y, j0 = s * g.chunk;
  const int64_t j1 = j0 + g.chunk < g.M ? j0 + g.chunk : g.M;
  Welford<T> w;
  if (c < g.C)
    for (int64_t j = j0 + ty; j < j1; j += kRows) w.push(x[j * g.C + c]);
  sh[0][ty][tx] = w.n;
  sh[1][ty][tx] = w.mean;
  sh[2][ty][tx] = w.m2;
  __syncthreads();
  if (ty != 0 || c >= g.C) return;
  Welford<T> all;
  for (int r = 0; r < kRows; ++r) all.merge(sh[0][r][tx], sh[1][r][tx], sh[2][r][tx]);
  const int64_t k = c * g.splits + s, cs = g.C * g.splits;
  part[k] = all.n;
  part[cs + k] = all.mean;
  part[2 * cs + k] = all.m2;
}

template <class T>
__global__ void finalize_stats_kernel(const T* __restrict__ part, int64_t C, int splits, T* __restrict__ mean,
                                      T* __restrict__ invstd, T* running_mean, T* running_var, T momentum, T eps) {
  const int64_t cs = C * splits;
  for (int64_t c = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; c < C; c += int64_t(gridDim.x) * blockDim.x) {
    Welford<T> w;
    for (int s = 0; s < splits; ++s) {
      const int64_t k = c * splits + s;
      w.merge(part[k], part[cs + k], part[2 * cs + k]);
    }
    mean[c] = w.mean;
    invstd[c] = norm_invstd(w.var_biased(), eps);
    if (running_mean) {
      running_mean[c] = running_update(running_mean[c], w.mean, momentum);
      running_var[c] = running_update(running_var[c], w.var_unbiased(), momentum);
    }
  }
}

template <class T>
__global__ void eval_stats_kernel(const T* __restrict__ running_mean, const T* __restrict__ running_var, int64_t C,
                                  T* __restrict__ mean, T* __restrict__ invstd, T eps) {
  for (int64_t c = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; c < C; c += int64_t(gridDim.x) * blockDim.x) {
    mean[c] = running_mean[c];
    invstd[c] = norm_invstd(running_var[c], eps);
  }
}

template <class T>
__global__ void apply_kernel(T* __restrict__ y, const T* __restrict__ x, const T* __restrict__ mean,
                             const T* __restrict__ invstd, const T* __restrict__ w, const T* __restrict__ b,
                             const T* __restrict__ residual, bool relu, ChannelOf channel, int64_t total) {
  for (int64_t k = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; k < total; k += int64_t(gridDim.x) * blockDim.x) {
    const int64_t c = channel(k);
    T v = norm_affine(x[k], mean[c], invstd[c], w ? w[c] : T(1), b ? b[c] : T(0));
    if (residual) v += residual[k];
    y[k] = norm_epilogue(v, relu);
  }
}

void fwd_cuda(Stream& st, const BatchNormFwdArgs& a) {
  const Tensor &y = a.y, &save_mean = a.save_mean, &save_invstd = a.save_invstd, &x = a.x, &weight = a.weight,
               &bias = a.bias, &running_mean = a.running_mean, &running_var = a.running_var;
  const bool training = a.training;
  const double momentum = a.momentum, eps = a.eps;
  const NormDims d = norm_dims("batch_norm", x);
  cudaStream_t cs = cuda_stream(st);
  SP_DISPATCH_FLOAT(x.dtype(), "batch_norm", {
    using T = scalar_t;
    if (training) {
      const ChannelSlices g(d);
      const RowSlices r(d);
      const int splits = d.HW == 1 ? r.splits : g.splits;
      Tensor part = Tensor::empty({3, d.C * splits}, x.dtype(), st);
      if (d.HW == 1)
        partial_stats_last_kernel<T><<<r.grid(), RowSlices::block(), 0, cs>>>(x.data<T>(), r, part.data<T>());
      else
        partial_stats_kernel<T><<<g.grid(), kBlock, 0, cs>>>(x.data<T>(), g, part.data<T>());
      SP_CUDA_LAUNCH_CHECK();
      finalize_stats_kernel<T><<<grid_1d(d.C), kBlock, 0, cs>>>(part.data<T>(), d.C, splits, save_mean.data<T>(),
                                                                save_invstd.data<T>(), data_or_null<T>(running_mean),
                                                                data_or_null<T>(running_var), T(momentum), T(eps));
      SP_CUDA_LAUNCH_CHECK();
    } else {
      eval_stats_kernel<T><<<grid_1d(d.C), kBlock, 0, cs>>>(running_mean.data<T>(), running_var.data<T>(), d.C,
                                                            save_mean.data<T>(), save_invstd.data<T>(), T(eps));
      SP_CUDA_LAUNCH_CHECK();
    }
    apply_kernel<T><<<grid_1d(d.numel()), kBlock, 0, cs>>>(y.data<T>(), x.data<T>(), save_mean.data<T>(),
                                                           save_invstd.data<T>(), data_or_null<T>(weight),
                                                           data_or_null<T>(bias), data_or_null<T>(a.residual),
                                                           a.relu, ChannelOf(d), d.numel());
    SP_CUDA_LAUNCH_CHECK();
  });
}

// Per-slice sums of g and g * xhat, g = dy past the epilogue (y: the forward's output when it had a ReLU,
// else nullptr).
template <class T>
__global__ void partial_grad_sums_kernel(const T* __restrict__ dy, const T* __restrict__ y, const T* __restrict__ x,
                                         const T* __restrict__ mean, const T* __restrict__ invstd, ChannelSlices g,
                                         T* __restrict__ part) {
  const int64_t c = blockIdx.x, s = blockIdx.y, j0 = s * g.chunk;
  const int64_t j1 = j0 + g.chunk < g.M ? j0 + g.chunk : g.M;
  const T m = mean[c], inv = invstd[c];
  T sdy = 0, sdyxh = 0;
  for (int64_t j = j0 + threadIdx.x; j < j1; j += blockDim.x) {
    int64_t n = g.by_hw.div(j);
    int64_t k = (n * g.C + c) * g.HW + (j - n * g.HW);
    T gy = y ? norm_epilogue_grad(dy[k], y[k], true) : dy[k];
    sdy += gy;
    sdyxh += gy * ((x[k] - m) * inv);
  }
  reduce::block_sum2(sdy, sdyxh);
  if (threadIdx.x == 0) {
    const int64_t k = c * g.splits + s;
    part[k] = sdy;
    part[g.C * g.splits + k] = sdyxh;
  }
}

// Channels innermost: the sums of partial_grad_sums_kernel over RowSlices (see partial_stats_last_kernel).
template <class T>
__global__ void partial_grad_sums_last_kernel(const T* __restrict__ dy, const T* __restrict__ y,
                                              const T* __restrict__ x, const T* __restrict__ mean,
                                              const T* __restrict__ invstd, RowSlices g, T* __restrict__ part) {
  __shared__ T sh[2][kRows][kLanes];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int64_t c = blockIdx.x * int64_t(kLanes) + tx, s = blockIdx.y, j0 = s * g.chunk;
  const int64_t j1 = j0 + g.chunk < g.M ? j0 + g.chunk : g.M;
  T sdy = 0, sdyxh = 0;
  if (c < g.C) {
    const T m = mean[c], inv = invstd[c];
    for (int64_t j = j0 + ty; j < j1; j += kRows) {
      const T gy = y ? norm_epilogue_grad(dy[j * g.C + c], y[j * g.C + c], true) : dy[j * g.C + c];
      sdy += gy;
      sdyxh += gy * ((x[j * g.C + c] - m) * inv);
    }
  }
  sh[0][ty][tx] = sdy;
  sh[1][ty][tx] = sdyxh;
  __syncthreads();
  if (ty != 0 || c >= g.C) return;
  T a = 0, b = 0;
  for (int r = 0; r < kRows; ++r) {
    a += sh[0][r][tx];
    b += sh[1][r][tx];
  }
  const int64_t k = c * g.splits + s;
  part[k] = a;
  part[g.C * g.splits + k] = b;
}

// sums[c] = sum dy, sums[C + c] = sum dy * xhat; also the weight and bias gradients.
template <class T>
__global__ void finalize_grad_sums_kernel(const T* __restrict__ part, int64_t C, int splits, T* __restrict__ sums,
                                          T* dweight, T* dbias, T beta_w, T beta_b) {
  const int64_t cs = C * splits;
  for (int64_t c = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; c < C; c += int64_t(gridDim.x) * blockDim.x) {
    T sdy = 0, sdyxh = 0;
    for (int s = 0; s < splits; ++s) {
      sdy += part[c * splits + s];
      sdyxh += part[cs + c * splits + s];
    }
    sums[c] = sdy;
    sums[C + c] = sdyxh;
    if (dweight) stat::store_grad(dweight[c], sdyxh, beta_w);
    if (dbias) stat::store_grad(dbias[c], sdy, beta_b);
  }
}

// The input and residual gradients (either may be nullptr); sums == nullptr: eval mode (statistics are
// constants); y: as partial_grad_sums_kernel.
template <class T>
struct DxArgs {
  T* dx;
  T* dres;
  const T *dy, *y, *x, *mean, *invstd, *w, *sums;
  T inv_m, beta_x, beta_r;
};

template <class T>
__global__ void dx_kernel(DxArgs<T> a, ChannelOf channel, int64_t total) {
  for (int64_t k = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; k < total; k += int64_t(gridDim.x) * blockDim.x) {
    const T g = a.y ? norm_epilogue_grad(a.dy[k], a.y[k], true) : a.dy[k];
    if (a.dres) stat::store_grad(a.dres[k], g, a.beta_r);
    if (!a.dx) continue;
    const int64_t c = channel(k);
    const T wc = a.w ? a.w[c] : T(1), inv = a.invstd[c];
    const T xhat = (a.x[k] - a.mean[c]) * inv;
    const T mean_dxhat = a.sums ? wc * a.sums[c] * a.inv_m : T(0);
    const T mean_dxhat_xhat = a.sums ? wc * a.sums[channel.C + c] * a.inv_m : T(0);
    stat::store_grad(a.dx[k], norm_backward_dx(g, xhat, wc, inv, mean_dxhat, mean_dxhat_xhat), a.beta_x);
  }
}

void bwd_cuda(Stream& st, const BatchNormBwdArgs& a) {
  const Tensor &dx = a.dx, &dweight = a.dweight, &dbias = a.dbias, &dy = a.dy, &x = a.x, &save_mean = a.save_mean,
               &save_invstd = a.save_invstd, &weight = a.weight;
  const bool training = a.training;
  const NormDims d = norm_dims("batch_norm backward", x);
  cudaStream_t cs = cuda_stream(st);
  SP_DISPATCH_FLOAT(x.dtype(), "batch_norm backward", {
    using T = scalar_t;
    const T* masked_by = a.relu ? a.y.data<T>() : nullptr;
    Tensor sums;
    if ((training && dx.defined()) || dweight.defined() || dbias.defined()) {
      const ChannelSlices g(d);
      const RowSlices r(d);
      const int splits = d.HW == 1 ? r.splits : g.splits;
      Tensor part = Tensor::empty({2, d.C * splits}, x.dtype(), st);
      sums = Tensor::empty({2, d.C}, x.dtype(), st);
      if (d.HW == 1)
        partial_grad_sums_last_kernel<T><<<r.grid(), RowSlices::block(), 0, cs>>>(
            dy.data<T>(), masked_by, x.data<T>(), save_mean.data<T>(), save_invstd.data<T>(), r, part.data<T>());
      else
        partial_grad_sums_kernel<T><<<g.grid(), kBlock, 0, cs>>>(dy.data<T>(), masked_by, x.data<T>(),
                                                                 save_mean.data<T>(), save_invstd.data<T>(), g,
                                                                 part.data<T>());
      SP_CUDA_LAUNCH_CHECK();
      finalize_grad_sums_kernel<T><<<grid_1d(d.C), kBlock, 0, cs>>>(part.data<T>(), d.C, splits, sums.data<T>(),
                                                                    data_or_null<T>(dweight), data_or_null<T>(dbias),
                                                                    T(a.beta_w), T(a.beta_b));
      SP_CUDA_LAUNCH_CHECK();
    }
    if (dx.defined() || a.dresidual.defined()) {
      DxArgs<T> k;
      k.dx = data_or_null<T>(dx);
      k.dres = data_or_null<T>(a.dresidual);
      k.dy = dy.data<T>();
      k.y = masked_by;
      k.x = x.data<T>();
      k.mean = save_mean.data<T>();
      k.invstd = save_invstd.data<T>();
      k.w = data_or_null<T>(weight);
      k.sums = training && dx.defined() ? sums.data<T>() : nullptr;
      k.inv_m = T(1.0 / double(d.N * d.HW));
      k.beta_x = T(a.beta_x);
      k.beta_r = T(a.beta_r);
      dx_kernel<T><<<grid_1d(d.numel()), kBlock, 0, cs>>>(k, ChannelOf(d), d.numel());
      SP_CUDA_LAUNCH_CHECK();
    }
  });
}

}  // namespace
SP_REGISTER_KERNEL(k_batch_norm_fwd, CUDA, fwd_cuda);
SP_REGISTER_KERNEL(k_batch_norm_bwd, CUDA, bwd_cuda);
}  // namespace sp
