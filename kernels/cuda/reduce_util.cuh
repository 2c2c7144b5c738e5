// Block-wide sum for CUDA reduction kernels (bias gradient, pooling): warp shuffles, then one value per
// warp through shared memory. Every thread of the block must call it; the total is valid in thread 0.
// Used by kernels/cuda/bias.cu and kernels/cuda/pool.cu, whose GPU tests cover it.
#pragma once
#include <cuda_runtime.h>

namespace sp::cuda {

template <class A>
__device__ __forceinline__ A warp_sum(A v) {
  for (int off = 16; off > 0; off >>= 1) v += __shfl_down_sync(0xffffffffu, v, off);
  return v;
}

// blockDim.x must be a multiple of 32 and at most 1024.
template <class A>
__device__ __forceinline__ A block_sum(A v) {
  __shared__ A warp_totals[32];
  int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  v = warp_sum(v);
  if (lane == 0) warp_totals[warp] = v;
  __syncthreads();
  int nwarps = blockDim.x >> 5;
  v = threadIdx.x < nwarps ? warp_totals[threadIdx.x] : A(0);
  if (warp == 0) v = warp_sum(v);
  __syncthreads();  // warp_totals may be reused by a following call
  return v;
}

}  // namespace sp::cuda
