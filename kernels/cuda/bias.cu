// CUDA per-channel bias add and gradient (see kernels/bias.h). The gradient runs in two passes: blocks
// (slice p, channel c) sum one slice of a channel into partials[c, p], then one thread per channel adds
// its partials and applies beta. Compared with the CPU reference through the linear/conv2d GPU tests.
#include "kernels/bias.h"
#include "kernels/cuda/cuda_context.h"
#include "kernels/cuda/reduce_util.cuh"
#include "kernels/dispatch.h"

namespace sp {
namespace {

template <class T, class I>
__global__ void bias_fwd_kernel(T* y, const T* b, I n, I channels, I inner) {
  for (I i = I(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += I(gridDim.x) * blockDim.x)
    y[i] += b[(i / inner) % channels];
}

template <class A>
struct Acc {
  using type = float;
};
template <>
struct Acc<double> {
  using type = double;
};

// Block (p, c): elements e in [p * chunk, (p + 1) * chunk) of channel c, where e = o * inner + i.
template <class T, class I>
__global__ void bias_partial_kernel(typename Acc<T>::type* partial, const T* gy, I per_channel, I channels, I inner,
                                    I chunk, int slices) {
  using A = typename Acc<T>::type;
  for (I c = blockIdx.y; c < channels; c += gridDim.y) {
    I begin = I(blockIdx.x) * chunk, end = begin + chunk < per_channel ? begin + chunk : per_channel;
    A sum = 0;
    for (I e = begin + threadIdx.x; e < end; e += blockDim.x) {
      I o = e / inner, i = e - o * inner;
      sum += A(gy[(o * channels + c) * inner + i]);
    }
    sum = cuda::block_sum(sum);
    if (threadIdx.x == 0) partial[int64_t(c) * slices + blockIdx.x] = sum;
  }
}

template <class T>
__global__ void bias_finish_kernel(T* db, const typename Acc<T>::type* partial, int64_t channels, int slices,
                                   T beta) {
  using A = typename Acc<T>::type;
  for (int64_t c = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; c < channels; c += int64_t(gridDim.x) * blockDim.x) {
    A sum = 0;
    for (int p = 0; p < slices; ++p) sum += partial[c * slices + p];
    db[c] = beta == T(0) ? T(sum) : T(sum) + beta * db[c];
  }
}

bool fits32(int64_t n) { return n < (int64_t(1) << 31); }

void bias_fwd_cuda(Stream& s, const Tensor& y, const Tensor& b, int64_t outer, int64_t channels, int64_t inner) {
  int64_t n = y.numel();
  SP_DISPATCH_FLOAT(y.dtype(), "channel_bias_fwd", {
    if (fits32(n))
      bias_fwd_kernel<scalar_t, uint32_t><<<grid_1d(n), kBlock, 0, cuda_stream(s)>>>(
          y.data<scalar_t>(), b.data<scalar_t>(), uint32_t(n), uint32_t(channels), uint32_t(inner));
    else
      bias_fwd_kernel<scalar_t, int64_t><<<grid_1d(n), kBlock, 0, cuda_stream(s)>>>(
          y.data<scalar_t>(), b.data<scalar_t>(), n, channels, inner);
  });
  SP_CUDA_LAUNCH_CHECK();
}

void bias_bwd_cuda(Stream& s, const Tensor& db, const Tensor& gy, int64_t outer, int64_t channels, int64_t inner,
                   double beta) {
  int64_t per_channel = outer * inner;
  // About 4096 elements per block, at most 1024 slices per channel.
  int64_t slices = std::min<int64_t>(1024, std::max<int64_t>(1, (per_channel + 4095) / 4096));
  int64_t chunk = std::max<int64_t>(1, (per_channel + slices - 1) / slices);
  dim3 grid(unsigned(slices), unsigned(std::min<int64_t>(channels, 65535)));
  cudaStream_t cs = cuda_stream(s);
  SP_DISPATCH_FLOAT(gy.dtype(), "channel_bias_bwd", {
    using A = typename Acc<scalar_t>::type;
    Tensor partial = Tensor::empty({channels * slices}, dtype_v<A>, s);
    A* pp = partial.data<A>();
    if (fits32(gy.numel()))
      bias_partial_kernel<scalar_t, uint32_t><<<grid, kBlock, 0, cs>>>(pp, gy.data<scalar_t>(), uint32_t(per_channel),
                                                                      uint32_t(channels), uint32_t(inner),
                                                                      uint32_t(chunk), int(slices));
    else
      bias_partial_kernel<scalar_t, int64_t><<<grid, kBlock, 0, cs>>>(pp, gy.data<scalar_t>(), per_channel, channels,
                                                                     inner, chunk, int(slices));
    SP_CUDA_LAUNCH_CHECK();
    bias_finish_kernel<scalar_t><<<grid_1d(channels), kBlock, 0, cs>>>(db.data<scalar_t>(), pp, channels,
                                                                       int(slices), scalar_t(beta));
  });
  SP_CUDA_LAUNCH_CHECK();
}

}  // namespace
SP_REGISTER_KERNEL(k_channel_bias_fwd, CUDA, bias_fwd_cuda);
SP_REGISTER_KERNEL(k_channel_bias_bwd, CUDA, bias_bwd_cuda);
}  // namespace sp
