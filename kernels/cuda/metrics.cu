// CUDA accumulate_metrics (see kernels/metrics.h): one block counts correct rows with a shared-memory
// reduction and adds the batch's loss sum, so the accumulator needs no atomics and stays deterministic.
#include "kernels/cuda/cuda_context.h"
#include "kernels/dispatch.h"
#include "kernels/metrics.h"
#include "kernels/metrics_math.h"

namespace sp {
namespace {

template <class L, class T>
__global__ void accumulate_metrics_kernel(double* acc, const L* loss, const T* logits, const int64_t* labels,
                                          int64_t n, int64_t c) {
  __shared__ int64_t partial[kBlock];
  int64_t correct = 0;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) correct += row_argmax(logits + i * c, c) == labels[i];
  partial[threadIdx.x] = correct;
  __syncthreads();
  for (int stride = blockDim.x / 2; stride > 0; stride /= 2) {
    if (int(threadIdx.x) < stride) partial[threadIdx.x] += partial[threadIdx.x + stride];
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    acc[0] += double(loss[0]) * double(n);
    acc[1] += double(partial[0]);
  }
}

void accumulate_metrics_cuda(Stream& s, const Tensor& acc, const Tensor& loss, const Tensor& logits,
                             const Tensor& labels) {
  int64_t n = logits.size(0), c = logits.size(1);
  SP_DISPATCH_FLOAT(loss.dtype(), "accumulate_metrics", {
    using L = scalar_t;
    SP_DISPATCH_FLOAT(logits.dtype(), "accumulate_metrics", {
      accumulate_metrics_kernel<L, scalar_t><<<1, kBlock, 0, cuda_stream(s)>>>(
          acc.data<double>(), loss.data<L>(), logits.data<scalar_t>(), labels.data<int64_t>(), n, c);
    });
  });
  SP_CUDA_LAUNCH_CHECK();
}

}  // namespace
SP_REGISTER_KERNEL(k_accumulate_metrics, CUDA, accumulate_metrics_cuda);
}  // namespace sp
