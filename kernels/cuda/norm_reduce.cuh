// Warp- and block-level reductions for the norm and loss CUDA kernels: Welford triples (Chan's merge from
// kernels/stat_math.h), pairs of sums, and single sums. Deterministic: the combination order depends only
// on the launch geometry. Block versions need blockDim.x to be a multiple of 32 (at most 1024), must be
// reached by every thread of the block, and leave the result in thread 0. Exercised by
// tests/gpu/test_ops_norm_gpu.cpp and tests/gpu/test_ops_loss_gpu.cpp.
#pragma once
#include "kernels/cuda/cuda_context.h"
#include "kernels/stat_math.h"

namespace sp::reduce {

constexpr unsigned kFullMask = 0xffffffffu;

template <class T>
__device__ __forceinline__ stat::Welford<T> warp_welford(stat::Welford<T> w) {
  for (int o = 16; o > 0; o >>= 1) {
    T n = __shfl_down_sync(kFullMask, w.n, o);
    T mean = __shfl_down_sync(kFullMask, w.mean, o);
    T m2 = __shfl_down_sync(kFullMask, w.m2, o);
    w.merge(n, mean, m2);
  }
  return w;  // lane 0 holds the warp's total
}

template <class T>
__device__ __forceinline__ void warp_sum2(T& a, T& b) {
  for (int o = 16; o > 0; o >>= 1) {
    a += __shfl_down_sync(kFullMask, a, o);
    b += __shfl_down_sync(kFullMask, b, o);
  }
}

template <class T>
__device__ __forceinline__ T warp_sum(T a) {
  for (int o = 16; o > 0; o >>= 1) a += __shfl_down_sync(kFullMask, a, o);
  return a;
}

// Every lane of the warp receives the total (butterfly), for row kernels whose lanes all need it.
template <class T>
__device__ __forceinline__ T warp_allsum(T a) {
  for (int o = 16; o > 0; o >>= 1) a += __shfl_xor_sync(kFullMask, a, o);
  return a;
}

template <class T>
__device__ __forceinline__ void warp_allmaxsum(stat::MaxSum<T>& v) {
  for (int o = 16; o > 0; o >>= 1) {
    T m = __shfl_xor_sync(kFullMask, v.m, o);
    T s = __shfl_xor_sync(kFullMask, v.s, o);
    v.merge(m, s);
  }
}

template <class T>
__device__ stat::Welford<T> block_welford(stat::Welford<T> w) {
  __shared__ T sn[32], smean[32], sm2[32];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
  w = warp_welford(w);
  if (lane == 0) {
    sn[warp] = w.n;
    smean[warp] = w.mean;
    sm2[warp] = w.m2;
  }
  __syncthreads();
  if (warp == 0) {
    stat::Welford<T> v;
    if (lane < nwarps) {
      v.n = sn[lane];
      v.mean = smean[lane];
      v.m2 = sm2[lane];
    }
    w = warp_welford(v);
  }
  __syncthreads();  // the shared slots may be reused by a later call
  return w;
}

template <class T>
__device__ void block_sum2(T& a, T& b) {
  __shared__ T sa[32], sb[32];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
  warp_sum2(a, b);
  if (lane == 0) {
    sa[warp] = a;
    sb[warp] = b;
  }
  __syncthreads();
  if (warp == 0) {
    a = lane < nwarps ? sa[lane] : T(0);
    b = lane < nwarps ? sb[lane] : T(0);
    warp_sum2(a, b);
  }
  __syncthreads();
}

template <class T>
__device__ T block_sum(T a) {
  __shared__ T sa[32];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
  a = warp_sum(a);
  if (lane == 0) sa[warp] = a;
  __syncthreads();
  if (warp == 0) a = warp_sum(lane < nwarps ? sa[lane] : T(0));
  __syncthreads();
  return a;
}

// Reductions over a segment handled by kSeg threads: one warp (32) or the whole block (kBlock).
template <int kSeg, class T>
__device__ __forceinline__ stat::Welford<T> seg_welford(stat::Welford<T> w) {
  if constexpr (kSeg == 32)
    return warp_welford(w);
  else
    return block_welford(w);
}
template <int kSeg, class T>
__device__ __forceinline__ void seg_sum2(T& a, T& b) {
  if constexpr (kSeg == 32)
    warp_sum2(a, b);
  else
    block_sum2(a, b);
}

}  // namespace sp::reduce
