// CUDA round_bf16 (see kernels/round_bf16.h); the per-element math is kernels/round_bf16_math.h, shared with
// the CPU reference and compared with it bit for bit in tests/gpu/test_ops_precision_gpu.cpp.
#include "kernels/cuda/cuda_context.h"
#include "kernels/dispatch.h"
#include "kernels/round_bf16.h"
#include "kernels/round_bf16_math.h"

namespace sp {
namespace {
template <class T>
__global__ void round_bf16_kernel(T* y, const T* x, T beta, bool read_y, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    y[i] = read_y ? prec::round_bf16(x[i]) + beta * y[i] : prec::round_bf16(x[i]);
}
void round_bf16_cuda(Stream& s, const Tensor& y, const Tensor& x, double beta) {
  const int64_t n = x.numel();
  SP_DISPATCH_FLOAT(x.dtype(), "round_bf16", {
    round_bf16_kernel<scalar_t><<<grid_1d(n), kBlock, 0, cuda_stream(s)>>>(y.data<scalar_t>(), x.data<scalar_t>(),
                                                                          scalar_t(beta), beta != 0.0, n);
  });
  SP_CUDA_LAUNCH_CHECK();
}
}  // namespace
SP_REGISTER_KERNEL(k_round_bf16, CUDA, round_bf16_cuda);
}  // namespace sp
