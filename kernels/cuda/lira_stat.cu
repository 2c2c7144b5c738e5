// CUDA fused LiRA statistic (see kernels/lira_stat.h): one thread per (sample, view) row running the shared
// row formula in f64 (a row of C logits stays in L1 between its max and sum passes); compared with the CPU
// twin in tests/gpu/test_lira_stat_gpu.cpp.
#include "kernels/cuda/cuda_context.h"
#include "kernels/dispatch.h"
#include "kernels/lira_stat.h"

namespace sp {
namespace {
template <class T>
__global__ void lira_stat_kernel(double* phi, const T* z, const int64_t* labels, int64_t rows, int64_t A, int64_t C,
                                 lira::Statistic st) {
  for (int64_t r = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; r < rows; r += int64_t(gridDim.x) * blockDim.x)
    phi[r] = lira::lira_statistic(z + r * C, C, labels[r / A], st);
}
void lira_stat_cuda(Stream& s, const Tensor& phi, const Tensor& logits, const Tensor& labels, lira::Statistic st) {
  const int64_t A = logits.size(1), C = logits.size(2), rows = logits.size(0) * A;
  SP_DISPATCH_FLOAT(logits.dtype(), "lira_stat", {
    lira_stat_kernel<scalar_t><<<grid_1d(rows), kBlock, 0, cuda_stream(s)>>>(
        phi.data<double>(), logits.data<scalar_t>(), labels.data<int64_t>(), rows, A, C, st);
  });
  SP_CUDA_LAUNCH_CHECK();
}
}  // namespace
SP_REGISTER_KERNEL(k_lira_stat, CUDA, lira_stat_cuda);
}  // namespace sp
