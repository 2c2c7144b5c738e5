// CUDA DP-SGD kernels (see kernels/dp_sgd.h). row_sq_norm splits each row into fixed chunks (one block each,
// so a few long rows still fill the GPU), writes per-chunk f64 partial sums to the stream workspace and adds
// them per row in a fixed order: deterministic, no atomics. The noise kernel gives each thread one Philox pair.
// Compared with the CPU in tests/gpu/test_dpsgd_gpu.cpp.
#include "kernels/cuda/cuda_context.h"
#include "kernels/cuda/reduce_util.cuh"
#include "kernels/dispatch.h"
#include "kernels/dp_sgd.h"
#include "kernels/dp_sgd_math.h"

namespace sp {
namespace {

constexpr int64_t kChunk = 8192;  // elements of one row summed by one block

// partial[row * chunks + chunk] = sum of squares of g[row, chunk * kChunk, ...).
template <class T>
__global__ void row_sq_partial_kernel(double* partial, const T* g, int64_t n, int64_t chunks) {
  const int64_t row = blockIdx.y, chunk = blockIdx.x;
  const int64_t lo = chunk * kChunk, hi = lo + kChunk < n ? lo + kChunk : n;
  const T* p = g + row * n;
  double acc = 0;
  for (int64_t j = lo + threadIdx.x; j < hi; j += blockDim.x) acc += double(p[j]) * double(p[j]);
  acc = cuda::block_sum(acc);
  if (threadIdx.x == 0) partial[row * chunks + chunk] = acc;
}

template <class T>
__global__ void row_sq_finish_kernel(T* out, const double* partial, int64_t rows, int64_t chunks, double beta) {
  const int64_t row = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (row >= rows) return;
  double acc = 0;
  for (int64_t c = 0; c < chunks; ++c) acc += partial[row * chunks + c];
  out[row] = T(beta == 0.0 ? acc : acc + beta * double(out[row]));
}

void row_sq_norm_cuda(Stream& s, const Tensor& out, const Tensor& g, double beta) {
  const int64_t rows = g.size(0), n = g.size(1);
  SP_CHECK(rows <= 65535, "row_sq_norm: ", rows, " rows exceed the CUDA grid limit of 65535");
  const int64_t chunks = n > 0 ? (n + kChunk - 1) / kChunk : 1;
  SP_CHECK(chunks <= 2147483647, "row_sq_norm: rows of ", n, " elements are too long");
  double* partial = static_cast<double*>(cuda_workspace(s, size_t(rows * chunks) * sizeof(double)));
  SP_DISPATCH_FLOAT(g.dtype(), "row_sq_norm", {
    row_sq_partial_kernel<scalar_t><<<dim3(unsigned(chunks), unsigned(rows)), kBlock, 0, cuda_stream(s)>>>(
        partial, g.data<scalar_t>(), n, chunks);
    SP_CUDA_LAUNCH_CHECK();
    row_sq_finish_kernel<scalar_t><<<grid_1d(rows), kBlock, 0, cuda_stream(s)>>>(out.data<scalar_t>(), partial,
                                                                                  rows, chunks, beta);
    SP_CUDA_LAUNCH_CHECK();
  });
}

template <class T>
__global__ void clip_factors_kernel(T* f, const T* q, int64_t n, double clip_norm) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    f[i] = T(dp::clip_factor(double(q[i]), clip_norm, dp::clip_margin(T())));
}

void clip_factors_cuda(Stream& s, const Tensor& factors, const Tensor& sq_norms, double clip_norm) {
  const int64_t n = sq_norms.numel();
  SP_DISPATCH_FLOAT(sq_norms.dtype(), "clip_factors", {
    clip_factors_kernel<scalar_t><<<grid_1d(n), kBlock, 0, cuda_stream(s)>>>(
        factors.data<scalar_t>(), sq_norms.data<scalar_t>(), n, clip_norm);
  });
  SP_CUDA_LAUNCH_CHECK();
}

template <class T>
__global__ void gaussian_noise_kernel(T* y, int64_t n, double stddev, uint64_t key, uint64_t stream_id) {
  const int64_t pairs = (n + 1) / 2;
  for (int64_t p = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; p < pairs; p += int64_t(gridDim.x) * blockDim.x) {
    double z0, z1;
    dp::gaussian_pair(key, stream_id, uint64_t(p), z0, z1);
    y[2 * p] += T(stddev * z0);
    if (2 * p + 1 < n) y[2 * p + 1] += T(stddev * z1);
  }
}

void gaussian_noise_cuda(Stream& s, const Tensor& y, double stddev, uint64_t key, uint64_t stream_id) {
  const int64_t n = y.numel();
  SP_DISPATCH_FLOAT(y.dtype(), "gaussian_noise", {
    gaussian_noise_kernel<scalar_t><<<grid_1d((n + 1) / 2), kBlock, 0, cuda_stream(s)>>>(y.data<scalar_t>(), n,
                                                                                          stddev, key, stream_id);
  });
  SP_CUDA_LAUNCH_CHECK();
}

}  // namespace
SP_REGISTER_KERNEL(k_row_sq_norm, CUDA, row_sq_norm_cuda);
SP_REGISTER_KERNEL(k_clip_factors, CUDA, clip_factors_cuda);
SP_REGISTER_KERNEL(k_gaussian_noise, CUDA, gaussian_noise_cuda);
}  // namespace sp
