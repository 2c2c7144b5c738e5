// CUDA activation and binary kernels (see kernels/elementwise.h): grid-stride loops over the contiguous
// output; inputs are read through StridedIter, which reduces to `i * stride` for contiguous or
// scalar-broadcast operands and runs in 32-bit arithmetic whenever the indices fit (64-bit division is
// several times slower on the GPU). The per-element math is kernels/elementwise_math.h, shared with the CPU
// reference; compared with it in tests/gpu/test_ops_elementwise_gpu.cpp.
#include "kernels/cuda/cuda_context.h"
#include "kernels/dispatch.h"
#include "kernels/elementwise.h"

namespace sp {
namespace {

// Calls f with `it` narrowed to 32-bit indices when they fit, else as is.
template <int K, class F>
void with_index_type(const StridedIter<K>& it, int64_t n, F&& f) {
  if (it.fits_int32(n))
    f(it.template narrow<int32_t>());
  else
    f(it);
}

template <Act A, class T, class I>
__global__ void activation_kernel(T* y, const T* x, StridedIter<1, I> it, int64_t n, T slope) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    I off[1];
    it.offsets(I(i), off);
    y[i] = act_forward<A>(x[off[0]], slope);
  }
}

template <Act A, class T, class I>
__global__ void activation_backward_kernel(T* gx, const T* gy, const T* saved, StridedIter<1, I> it, int64_t n,
                                           T slope, T beta) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    I off[1];
    it.offsets(I(i), off);
    gx[i] = blend(act_backward<A>(saved[off[0]], gy[i], slope), T(1), beta, gx + i);
  }
}

template <BinaryOp OP, class T, class I>
__global__ void binary_kernel(T* out, const T* a, const T* b, StridedIter<2, I> it, int64_t n, T alpha, T beta) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    I off[2];
    it.offsets(I(i), off);
    out[i] = blend(binary_apply<OP>(a[off[0]], b[off[1]]), alpha, beta, out + i);
  }
}

void activation_cuda(Stream& s, const Tensor& y, const Tensor& x, Act act, double slope) {
  int64_t n = y.numel();
  cudaStream_t cs = cuda_stream(s);
  SP_DISPATCH_FLOAT(x.dtype(), act_name(act), {
    dispatch_act(act, [&](auto A) {
      with_index_type(make_strided_iter<1>(x.shape(), {x.strides()}), n, [&](auto it) {
        using I = typename decltype(it)::index_type;
        activation_kernel<decltype(A)::value, scalar_t, I>
            <<<grid_1d(n), kBlock, 0, cs>>>(y.data<scalar_t>(), x.data<scalar_t>(), it, n, scalar_t(slope));
      });
    });
  });
  SP_CUDA_LAUNCH_CHECK();
}

void activation_backward_cuda(Stream& s, const Tensor& gx, const Tensor& gy, const Tensor& saved, Act act,
                              double slope, double beta) {
  int64_t n = gx.numel();
  cudaStream_t cs = cuda_stream(s);
  SP_DISPATCH_FLOAT(gx.dtype(), act_name(act), {
    dispatch_act(act, [&](auto A) {
      with_index_type(make_strided_iter<1>(saved.shape(), {saved.strides()}), n, [&](auto it) {
        using I = typename decltype(it)::index_type;
        activation_backward_kernel<decltype(A)::value, scalar_t, I><<<grid_1d(n), kBlock, 0, cs>>>(
            gx.data<scalar_t>(), gy.data<scalar_t>(), saved.data<scalar_t>(), it, n, scalar_t(slope),
            scalar_t(beta));
      });
    });
  });
  SP_CUDA_LAUNCH_CHECK();
}

void binary_cuda(Stream& s, const Tensor& out, const Tensor& a, const Tensor& b, BinaryOp op, double alpha,
                 double beta) {
  int64_t n = out.numel();
  cudaStream_t cs = cuda_stream(s);
  SP_DISPATCH_FLOAT(out.dtype(), binary_name(op), {
    dispatch_binary(op, [&](auto OP) {
      with_index_type(binary_iter(out, a, b), n, [&](auto it) {
        using I = typename decltype(it)::index_type;
        binary_kernel<decltype(OP)::value, scalar_t, I><<<grid_1d(n), kBlock, 0, cs>>>(
            out.data<scalar_t>(), a.data<scalar_t>(), b.data<scalar_t>(), it, n, scalar_t(alpha), scalar_t(beta));
      });
    });
  });
  SP_CUDA_LAUNCH_CHECK();
}

}  // namespace

SP_REGISTER_KERNEL(k_activation, CUDA, activation_cuda);
SP_REGISTER_KERNEL(k_activation_backward, CUDA, activation_backward_cuda);
SP_REGISTER_KERNEL(k_binary, CUDA, binary_cuda);

}  // namespace sp
