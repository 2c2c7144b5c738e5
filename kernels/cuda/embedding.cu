// CUDA embedding gather and scatter-add (see kernels/embedding.h): one thread per output element for the
// gather (an out-of-range id writes NaN), one thread per weight-gradient element for the scatter-add,
// walking all N ids in ascending order and summing the rows that match its own v: no atomics, the CPU's
// summation order, a deterministic result. Compared with the CPU reference in
// tests/gpu/test_ops_embedding_gpu.cpp.
#include "kernels/cuda/cuda_context.h"
#include "kernels/dispatch.h"
#include "kernels/embedding.h"
#include "kernels/softmax_math.h"
#include "kernels/stat_math.h"

namespace sp {
namespace {

template <class T>
__global__ void embedding_kernel(T* __restrict__ y, const T* __restrict__ w, const int64_t* __restrict__ ids,
                                 int64_t n, int64_t V, int64_t D) {
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < n; e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t row = e / D, d = e - row * D, v = ids[row];
    y[e] = v >= 0 && v < V ? w[v * D + d] : smx::quiet_nan<T>();
  }
}

template <class T>
__global__ void embedding_backward_kernel(T* __restrict__ gw, const T* __restrict__ gy,
                                          const int64_t* __restrict__ ids, int64_t N, int64_t V, int64_t D, T beta) {
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < V * D; e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t v = e / D, d = e - v * D;
    T acc = 0;
    for (int64_t row = 0; row < N; ++row)
      if (ids[row] == v) acc += gy[row * D + d];
    stat::store_grad(gw[e], acc, beta);
  }
}

void embedding_cuda(Stream& s, const Tensor& y, const Tensor& weight, const Tensor& ids) {
  const int64_t n = y.numel(), V = weight.size(0), D = weight.size(1);
  SP_DISPATCH_FLOAT(weight.dtype(), "embedding", {
    embedding_kernel<scalar_t><<<grid_1d(n), kBlock, 0, cuda_stream(s)>>>(
        y.data<scalar_t>(), weight.data<scalar_t>(), ids.data<int64_t>(), n, V, D);
  });
  SP_CUDA_LAUNCH_CHECK();
}

void embedding_backward_cuda(Stream& s, const Tensor& gw, const Tensor& gy, const Tensor& ids, double beta) {
  const int64_t N = ids.numel(), V = gw.size(0), D = gw.size(1);
  SP_DISPATCH_FLOAT(gw.dtype(), "embedding_backward", {
    embedding_backward_kernel<scalar_t><<<grid_1d(V * D), kBlock, 0, cuda_stream(s)>>>(
        gw.data<scalar_t>(), gy.data<scalar_t>(), ids.data<int64_t>(), N, V, D, scalar_t(beta));
  });
  SP_CUDA_LAUNCH_CHECK();
}

}  // namespace
SP_REGISTER_KERNEL(k_embedding, CUDA, embedding_cuda);
SP_REGISTER_KERNEL(k_embedding_backward, CUDA, embedding_backward_cuda);
}  // namespace sp
