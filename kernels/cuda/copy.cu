// CUDA copy (strided, converting) and fill kernels; the arithmetic is kernels/elem.h, shared with the CPU
// twins in kernels/cpu/copy.cpp. Compared against them in tests/gpu/test_tensor_gpu.cpp.
#include "kernels/copy.h"
#include "kernels/cuda/cuda_context.h"
#include "kernels/dispatch.h"
#include "kernels/elem.h"

namespace sp {
namespace {

template <class D, class S>
__global__ void copy_kernel(D* d, Indexer di, const S* s, Indexer si, int64_t n, bool contiguous) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    if (contiguous)
      d[i] = from_double<D>(to_double(s[i]));
    else
      d[di.offset(i)] = from_double<D>(to_double(s[si.offset(i)]));
  }
}

template <class T>
__global__ void fill_kernel(T* d, Indexer di, T v, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    d[di.offset(i)] = v;
}

void copy_cuda(Stream& st, const Tensor& dst, const Tensor& src) {
  cudaStream_t cs = cuda_stream(st);
  int64_t n = dst.numel();
  if (dst.dtype() == src.dtype() && dst.is_contiguous() && src.is_contiguous()) {
    SP_CUDA_CHECK(cudaMemcpyAsync(dst.raw_data(), src.raw_data(), dst.nbytes(), cudaMemcpyDeviceToDevice, cs));
    return;
  }
  bool contig = dst.is_contiguous() && src.is_contiguous();
  Indexer di(dst.shape(), dst.strides()), si(src.shape(), src.strides());
  SP_DISPATCH_ALL(dst.dtype(), "copy", {
    using D = scalar_t;
    SP_DISPATCH_ALL(src.dtype(), "copy", {
      copy_kernel<D, scalar_t><<<grid_1d(n), kBlock, 0, cs>>>(static_cast<D*>(dst.raw_data()), di,
                                                               static_cast<const scalar_t*>(src.raw_data()), si,
                                                               n, contig);
    });
  });
  SP_CUDA_LAUNCH_CHECK();
}

void fill_cuda(Stream& st, const Tensor& dst, double value) {
  int64_t n = dst.numel();
  Indexer di(dst.shape(), dst.strides());
  SP_DISPATCH_ALL(dst.dtype(), "fill", {
    fill_kernel<scalar_t><<<grid_1d(n), kBlock, 0, cuda_stream(st)>>>(static_cast<scalar_t*>(dst.raw_data()), di,
                                                                      from_double<scalar_t>(value), n);
  });
  SP_CUDA_LAUNCH_CHECK();
}

}  // namespace

SP_REGISTER_KERNEL(k_copy, CUDA, copy_cuda);
SP_REGISTER_KERNEL(k_fill, CUDA, fill_cuda);

}  // namespace sp
