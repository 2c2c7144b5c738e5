// CUDA log-softmax and softmax along the last axis (see kernels/softmax.h), one warp per row: each lane
// folds its strided share of the row into an online (max, sum) pair, a butterfly gives every lane the
// row's (max, sum) (log-sum-exp for log-softmax), and the lanes write their outputs (the backwards reduce sum(dy) or sum(dy * y) the
// same way). Rows of any length: a lane walks its share in steps of 32, so a 4096-wide row costs each lane
// 128 elements, with coalesced reads. Compared with the CPU reference in tests/gpu/test_ops_loss_gpu.cpp.
#include "kernels/cuda/cuda_context.h"
#include "kernels/cuda/norm_reduce.cuh"
#include "kernels/dispatch.h"
#include "kernels/softmax.h"
#include "kernels/softmax_math.h"

namespace sp {
namespace {

constexpr int kRowsPerBlock = kBlock / 32;

unsigned row_blocks(int64_t rows) { return unsigned((rows + kRowsPerBlock - 1) / kRowsPerBlock); }

template <class T>
__global__ void fwd_kernel(T* __restrict__ y, const T* __restrict__ x, int64_t rows, int64_t C) {
  const int64_t r = blockIdx.x * int64_t(kRowsPerBlock) + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (r >= rows) return;  // whole warps leave together; no block-wide syncs follow
  const T* xr = x + r * C;
  stat::MaxSum<T> ms;
  for (int64_t j = lane; j < C; j += 32) ms.push(xr[j]);
  reduce::warp_allmaxsum(ms);
  const T lse = ms.lse();
  for (int64_t j = lane; j < C; j += 32) y[r * C + j] = xr[j] - lse;
}

template <class T>
__global__ void bwd_kernel(T* __restrict__ dx, const T* __restrict__ dy, const T* __restrict__ y, int64_t rows,
                           int64_t C, T beta) {
  const int64_t r = blockIdx.x * int64_t(kRowsPerBlock) + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (r >= rows) return;
  T sum = 0;
  for (int64_t j = lane; j < C; j += 32) sum += dy[r * C + j];
  sum = reduce::warp_allsum(sum);
  for (int64_t j = lane; j < C; j += 32) {
    const int64_t k = r * C + j;
    stat::store_grad(dx[k], smx::log_softmax_grad(dy[k], y[k], sum), beta);
  }
}

template <class T>
__global__ void softmax_fwd_kernel(T* __restrict__ y, const T* __restrict__ x, int64_t rows, int64_t C) {
  const int64_t r = blockIdx.x * int64_t(kRowsPerBlock) + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (r >= rows) return;  // whole warps leave together; no block-wide syncs follow
  const T* xr = x + r * C;
  stat::MaxSum<T> ms;
  for (int64_t j = lane; j < C; j += 32) ms.push(xr[j]);
  reduce::warp_allmaxsum(ms);
  for (int64_t j = lane; j < C; j += 32) y[r * C + j] = smx::softmax_value(xr[j], ms.m, ms.s);
}

template <class T>
__global__ void softmax_bwd_kernel(T* __restrict__ dx, const T* __restrict__ dy, const T* __restrict__ y,
                                   int64_t rows, int64_t C, T beta) {
  const int64_t r = blockIdx.x * int64_t(kRowsPerBlock) + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (r >= rows) return;
  T dot = 0;
  for (int64_t j = lane; j < C; j += 32) dot += dy[r * C + j] * y[r * C + j];
  dot = reduce::warp_allsum(dot);
  for (int64_t j = lane; j < C; j += 32) {
    const int64_t k = r * C + j;
    stat::store_grad(dx[k], smx::softmax_grad(dy[k], y[k], dot), beta);
  }
}

void fwd_cuda(Stream& st, const Tensor& y, const Tensor& x) {
  const int64_t C = x.size(-1), rows = x.numel() / C;
  SP_DISPATCH_FLOAT(x.dtype(), "log_softmax", {
    fwd_kernel<scalar_t>
        <<<row_blocks(rows), kBlock, 0, cuda_stream(st)>>>(y.data<scalar_t>(), x.data<scalar_t>(), rows, C);
  });
  SP_CUDA_LAUNCH_CHECK();
}

void bwd_cuda(Stream& st, const Tensor& dx, const Tensor& dy, const Tensor& y, double beta) {
  const int64_t C = y.size(-1), rows = y.numel() / C;
  SP_DISPATCH_FLOAT(y.dtype(), "log_softmax backward", {
    bwd_kernel<scalar_t><<<row_blocks(rows), kBlock, 0, cuda_stream(st)>>>(dx.data<scalar_t>(), dy.data<scalar_t>(),
                                                                           y.data<scalar_t>(), rows, C, scalar_t(beta));
  });
  SP_CUDA_LAUNCH_CHECK();
}

void softmax_fwd_cuda(Stream& st, const Tensor& y, const Tensor& x) {
  const int64_t C = x.size(-1), rows = x.numel() / C;
  SP_DISPATCH_FLOAT(x.dtype(), "softmax", {
    softmax_fwd_kernel<scalar_t>
        <<<row_blocks(rows), kBlock, 0, cuda_stream(st)>>>(y.data<scalar_t>(), x.data<scalar_t>(), rows, C);
  });
  SP_CUDA_LAUNCH_CHECK();
}

void softmax_bwd_cuda(Stream& st, const Tensor& dx, const Tensor& dy, const Tensor& y, double beta) {
  const int64_t C = y.size(-1), rows = y.numel() / C;
  SP_DISPATCH_FLOAT(y.dtype(), "softmax backward", {
    softmax_bwd_kernel<scalar_t><<<row_blocks(rows), kBlock, 0, cuda_stream(st)>>>(
        dx.data<scalar_t>(), dy.data<scalar_t>(), y.data<scalar_t>(), rows, C, scalar_t(beta));
  });
  SP_CUDA_LAUNCH_CHECK();
}

}  // namespace
SP_REGISTER_KERNEL(k_log_softmax_fwd, CUDA, fwd_cuda);
SP_REGISTER_KERNEL(k_log_softmax_bwd, CUDA, bwd_cuda);
SP_REGISTER_KERNEL(k_softmax_fwd, CUDA, softmax_fwd_cuda);
SP_REGISTER_KERNEL(k_softmax_bwd, CUDA, softmax_bwd_cuda);
}  // namespace sp
