// CUDA nearest upsampling and its backward (see kernels/upsample.h): one thread per output element
// forward, one per input element backward (it sums its own block, so no atomics and a deterministic
// result). Index math in kernels/shape_math.h, shared with the CPU reference; compared with it in
// tests/gpu/test_ops_shape_gpu.cpp.
#include "kernels/cuda/cuda_context.h"
#include "kernels/dispatch.h"
#include "kernels/elementwise_math.h"
#include "kernels/shape_math.h"
#include "kernels/upsample.h"

namespace sp {
namespace {

template <class T>
__global__ void upsample_kernel(T* y, const T* x, int64_t n, int64_t H, int64_t W, int64_t sh, int64_t sw) {
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < n; e += int64_t(gridDim.x) * blockDim.x)
    y[e] = x[upsample_src_index(e, H, W, sh, sw)];
}

template <class T>
__global__ void upsample_backward_kernel(T* gx, const T* gy, int64_t n, int64_t H, int64_t W, int64_t sh,
                                         int64_t sw, T beta) {
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < n; e += int64_t(gridDim.x) * blockDim.x)
    gx[e] = blend(upsample_grad_sum(gy, e, H, W, sh, sw), T(1), beta, gx + e);
}

void upsample_cuda(Stream& s, const Tensor& y, const Tensor& x, int64_t sh, int64_t sw) {
  int64_t n = y.numel();
  SP_DISPATCH_FLOAT(x.dtype(), "upsample_nearest", {
    upsample_kernel<scalar_t><<<grid_1d(n), kBlock, 0, cuda_stream(s)>>>(y.data<scalar_t>(), x.data<scalar_t>(), n,
                                                                        x.size(2), x.size(3), sh, sw);
  });
  SP_CUDA_LAUNCH_CHECK();
}

void upsample_backward_cuda(Stream& s, const Tensor& gx, const Tensor& gy, int64_t sh, int64_t sw, double beta) {
  int64_t n = gx.numel();
  SP_DISPATCH_FLOAT(gx.dtype(), "upsample_nearest_backward", {
    upsample_backward_kernel<scalar_t><<<grid_1d(n), kBlock, 0, cuda_stream(s)>>>(
        gx.data<scalar_t>(), gy.data<scalar_t>(), n, gx.size(2), gx.size(3), sh, sw, scalar_t(beta));
  });
  SP_CUDA_LAUNCH_CHECK();
}

}  // namespace

SP_REGISTER_KERNEL(k_upsample_nearest, CUDA, upsample_cuda);
SP_REGISTER_KERNEL(k_upsample_nearest_backward, CUDA, upsample_backward_cuda);

}  // namespace sp
