// CUDA integer remap (see kernels/remap.h): one thread per output element, the same remap_math.h index
// arithmetic as the CPU (a pure gather, so both directions are exact and deterministic). Compared with the
// CPU in tests/gpu/test_ops_augment_gpu.cpp.
#include "kernels/cuda/cuda_context.h"
#include "kernels/dispatch.h"
#include "kernels/remap.h"

namespace sp {
namespace {

template <class T>
__global__ void remap_kernel(T* y, const T* x, const int32_t* params, int64_t c, int64_t h, int64_t w, bool inverse,
                             T beta, int64_t n) {
  for (int64_t o = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; o < n; o += int64_t(gridDim.x) * blockDim.x) {
    int64_t j = o % w, rest = o / w, i = rest % h, nc = rest / h;
    int64_t src = remap_source(i, j, h, w, params + (nc / c) * 3, inverse);
    T v = src < 0 ? T(0) : x[nc * h * w + src];
    y[o] = beta == T(0) ? v : v + beta * y[o];
  }
}

void remap_cuda(Stream& s, const Tensor& y, const Tensor& x, const Tensor& params, bool inverse, double beta) {
  const int64_t n = y.numel();
  SP_DISPATCH_FLOAT(x.dtype(), "remap", {
    remap_kernel<scalar_t><<<grid_1d(n), kBlock, 0, cuda_stream(s)>>>(y.data<scalar_t>(), x.data<scalar_t>(),
                                                                      params.data<int32_t>(), x.size(1), x.size(2),
                                                                      x.size(3), inverse, scalar_t(beta), n);
  });
  SP_CUDA_LAUNCH_CHECK();
}

}  // namespace
SP_REGISTER_KERNEL(k_remap, CUDA, remap_cuda);
}  // namespace sp
