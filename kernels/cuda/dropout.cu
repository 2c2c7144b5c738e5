// CUDA dropout mask (see kernels/dropout.h): a grid-stride loop of one thread per Philox block, each
// writing its four elements; the values come from kernels/dropout_math.h, shared with the CPU reference
// and compared with it in tests/gpu/test_ops_dropout_gpu.cpp.
#include "kernels/cuda/cuda_context.h"
#include "kernels/dispatch.h"
#include "kernels/dropout.h"
#include "kernels/dropout_math.h"

namespace sp {
namespace {

template <class T>
__global__ void dropout_mask_kernel(T* m, int64_t n, double p, T keep, uint64_t key, uint64_t stream_id) {
  const int64_t blocks = (n + 3) / 4;
  for (int64_t b = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; b < blocks; b += int64_t(gridDim.x) * blockDim.x) {
    const crng::U32x4 w = drop::mask_words(key, stream_id, uint64_t(b));
    for (int k = 0; k < 4 && 4 * b + k < n; ++k) m[4 * b + k] = drop::mask_value(w.v[k], p, keep);
  }
}

void dropout_mask_cuda(Stream& s, const Tensor& mask, double p, uint64_t key, uint64_t stream_id) {
  const int64_t n = mask.numel();
  SP_DISPATCH_FLOAT(mask.dtype(), "dropout", {
    dropout_mask_kernel<scalar_t><<<grid_1d((n + 3) / 4), kBlock, 0, cuda_stream(s)>>>(
        mask.data<scalar_t>(), n, p, scalar_t(1.0 / (1.0 - p)), key, stream_id);
  });
  SP_CUDA_LAUNCH_CHECK();
}

}  // namespace
SP_REGISTER_KERNEL(k_dropout_mask, CUDA, dropout_mask_cuda);
}  // namespace sp
