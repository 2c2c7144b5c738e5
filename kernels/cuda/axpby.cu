// CUDA axpby (see kernels/axpby.h); compared with the CPU twin in tests/gpu/test_ops_scale_gpu.cpp.
#include "kernels/axpby.h"
#include "kernels/cuda/cuda_context.h"
#include "kernels/dispatch.h"

namespace sp {
namespace {
template <class T>
__global__ void axpby_kernel(T* y, const T* x, T a, T b, bool read_y, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    y[i] = read_y ? a * x[i] + b * y[i] : a * x[i];
}
void axpby_cuda(Stream& s, const Tensor& y, const Tensor& x, double a, double b) {
  int64_t n = x.numel();
  SP_DISPATCH_FLOAT(x.dtype(), "axpby", {
    axpby_kernel<scalar_t><<<grid_1d(n), kBlock, 0, cuda_stream(s)>>>(y.data<scalar_t>(), x.data<scalar_t>(),
                                                                     scalar_t(a), scalar_t(b), b != 0.0, n);
  });
  SP_CUDA_LAUNCH_CHECK();
}
}  // namespace
SP_REGISTER_KERNEL(k_axpby, CUDA, axpby_cuda);
}  // namespace sp
