// CUDA unfold (see kernels/unfold.h): one thread per output element in a grid-stride loop, so writes are
// coalesced; the index math (unfold_math.h) divides with IndexDiv. Compared with the CPU in
// tests/gpu/test_dpsgd_gpu.cpp.
#include "kernels/cuda/cuda_context.h"
#include "kernels/dispatch.h"
#include "kernels/unfold.h"

namespace sp {
namespace {
template <class T>
__global__ void unfold_kernel(T* out, const T* x, UnfoldIndex u, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t src = u.source(i);
    out[i] = src < 0 ? T(0) : x[src];
  }
}
void unfold_cuda(Stream& s, const Tensor& out, const Tensor& x, const Conv2dGeom& g) {
  const UnfoldIndex u = make_unfold_index(g);
  const int64_t n = out.numel();
  SP_DISPATCH_FLOAT(x.dtype(), "unfold", {
    unfold_kernel<scalar_t><<<grid_1d(n), kBlock, 0, cuda_stream(s)>>>(out.data<scalar_t>(), x.data<scalar_t>(), u, n);
  });
  SP_CUDA_LAUNCH_CHECK();
}
}  // namespace
SP_REGISTER_KERNEL(k_unfold, CUDA, unfold_cuda);
}  // namespace sp
