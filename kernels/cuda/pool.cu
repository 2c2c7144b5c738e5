// CUDA pooling kernels (see kernels/pool.h): one thread per output element forward, one thread per input
// element backward (gathering from the covering windows, so no atomics), using the same pool_math.h
// functions as the CPU. Global average pooling uses one warp per plane (NCHW) or one thread per (image,
// channel) with neighbouring threads on neighbouring channels (NHWC: C innermost, so reads coalesce); the
// other NHWC kernels likewise give consecutive threads consecutive channels (Pool2dGeom::position). Compared
// with the CPU in tests/gpu/test_ops_pool_gpu.cpp and tests/gpu/test_ops_nhwc_gpu.cpp.
#include "kernels/cuda/cuda_context.h"
#include "kernels/cuda/reduce_util.cuh"
#include "kernels/dispatch.h"
#include "kernels/pool.h"

namespace sp {
namespace {

#define SP_GRID_STRIDE(i, n) \
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < (n); i += int64_t(gridDim.x) * blockDim.x)

template <class T>
__global__ void max_fwd_kernel(T* y, int32_t* arg, const T* x, Pool2dGeom g, int64_t n) {
  SP_GRID_STRIDE(o, n) {
    int64_t p, oh, ow;
    g.position(o, g.oh, g.ow, &p, &oh, &ow);
    y[o] = max_pool_window(x + g.plane(p, g.h, g.w), g, oh, ow, arg + o);
  }
}

template <class T>
__global__ void max_bwd_kernel(T* dx, const T* gy, const int32_t* arg, Pool2dGeom g, T beta, int64_t n) {
  SP_GRID_STRIDE(i, n) {
    int64_t p, ih, iw;
    g.position(i, g.h, g.w, &p, &ih, &iw);
    int64_t off = g.plane(p, g.oh, g.ow);
    sink_write(dx + i, max_pool_grad_at(gy + off, arg + off, g, ih, iw), beta);
  }
}

template <class T>
__global__ void max_gather_kernel(T* y, const T* x, const int32_t* arg, Pool2dGeom g, int64_t n) {
  SP_GRID_STRIDE(o, n) {
    int64_t p, oh, ow;
    g.position(o, g.oh, g.ow, &p, &oh, &ow);
    y[o] = max_pool_gather_at(x + g.plane(p, g.h, g.w), arg + g.plane(p, g.oh, g.ow), g, oh, ow);
  }
}

template <class T>
__global__ void avg_fwd_kernel(T* y, const T* x, Pool2dGeom g, int64_t n) {
  SP_GRID_STRIDE(o, n) {
    int64_t p, oh, ow;
    g.position(o, g.oh, g.ow, &p, &oh, &ow);
    y[o] = avg_pool_window(x + g.plane(p, g.h, g.w), g, oh, ow);
  }
}

template <class T>
__global__ void avg_bwd_kernel(T* dx, const T* gy, Pool2dGeom g, T beta, int64_t n) {
  SP_GRID_STRIDE(i, n) {
    int64_t p, ih, iw;
    g.position(i, g.h, g.w, &p, &ih, &iw);
    sink_write(dx + i, avg_pool_grad_at(gy + g.plane(p, g.oh, g.ow), g, ih, iw), beta);
  }
}

// One warp per plane: lanes stride through the plane, then a shuffle reduction.
template <class T>
__global__ void gap_fwd_kernel(T* y, const T* x, int64_t planes, int64_t hw) {
  int64_t warps_per_grid = int64_t(gridDim.x) * (blockDim.x / 32);
  int lane = threadIdx.x & 31;
  for (int64_t p = blockIdx.x * int64_t(blockDim.x / 32) + threadIdx.x / 32; p < planes; p += warps_per_grid) {
    T sum = 0;
    for (int64_t i = lane; i < hw; i += 32) sum += x[p * hw + i];
    sum = cuda::warp_sum(sum);
    if (lane == 0) y[p] = sum / T(hw);
  }
}

// Channels last: thread (n, c) walks its plane, hw values c apart; neighbouring threads read neighbours.
template <class T>
__global__ void gap_fwd_nhwc_kernel(T* y, const T* x, int64_t c, int64_t hw, int64_t planes) {
  SP_GRID_STRIDE(p, planes) {
    const T* plane = x + (p / c) * hw * c + p % c;
    T sum = 0;
    for (int64_t i = 0; i < hw; ++i) sum += plane[i * c];
    y[p] = sum / T(hw);
  }
}

// Element i's plane: i / hw (NCHW), or image i / (hw c) and channel i % c (NHWC, c > 0).
template <class T>
__global__ void gap_bwd_kernel(T* dx, const T* gy, int64_t hw, int64_t c_last, T beta, int64_t n) {
  SP_GRID_STRIDE(i, n) {
    const int64_t p = c_last ? i / (hw * c_last) * c_last + i % c_last : i / hw;
    sink_write(dx + i, gy[p] / T(hw), beta);
  }
}

void max_fwd_cuda(Stream& s, const Tensor& y, const Tensor& arg, const Tensor& x, const Pool2dGeom& g) {
  int64_t n = y.numel();
  SP_DISPATCH_FLOAT(x.dtype(), "max_pool2d", {
    max_fwd_kernel<scalar_t><<<grid_1d(n), kBlock, 0, cuda_stream(s)>>>(y.data<scalar_t>(), arg.data<int32_t>(),
                                                                        x.data<scalar_t>(), g, n);
  });
  SP_CUDA_LAUNCH_CHECK();
}

void max_bwd_cuda(Stream& s, const Tensor& dx, const Tensor& gy, const Tensor& arg, const Pool2dGeom& g,
                  double beta) {
  int64_t n = dx.numel();
  SP_DISPATCH_FLOAT(gy.dtype(), "max_pool2d backward", {
    max_bwd_kernel<scalar_t><<<grid_1d(n), kBlock, 0, cuda_stream(s)>>>(
        dx.data<scalar_t>(), gy.data<scalar_t>(), arg.data<int32_t>(), g, scalar_t(beta), n);
  });
  SP_CUDA_LAUNCH_CHECK();
}

void max_gather_cuda(Stream& s, const Tensor& y, const Tensor& x, const Tensor& arg, const Pool2dGeom& g) {
  int64_t n = y.numel();
  SP_DISPATCH_FLOAT(x.dtype(), "max_pool2d_gather", {
    max_gather_kernel<scalar_t><<<grid_1d(n), kBlock, 0, cuda_stream(s)>>>(
        y.data<scalar_t>(), x.data<scalar_t>(), arg.data<int32_t>(), g, n);
  });
  SP_CUDA_LAUNCH_CHECK();
}

void avg_fwd_cuda(Stream& s, const Tensor& y, const Tensor& x, const Pool2dGeom& g) {
  int64_t n = y.numel();
  SP_DISPATCH_FLOAT(x.dtype(), "avg_pool2d", {
    avg_fwd_kernel<scalar_t><<<grid_1d(n), kBlock, 0, cuda_stream(s)>>>(y.data<scalar_t>(), x.data<scalar_t>(), g,
                                                                        n);
  });
  SP_CUDA_LAUNCH_CHECK();
}

void avg_bwd_cuda(Stream& s, const Tensor& dx, const Tensor& gy, const Pool2dGeom& g, double beta) {
  int64_t n = dx.numel();
  SP_DISPATCH_FLOAT(gy.dtype(), "avg_pool2d backward", {
    avg_bwd_kernel<scalar_t><<<grid_1d(n), kBlock, 0, cuda_stream(s)>>>(dx.data<scalar_t>(), gy.data<scalar_t>(),
                                                                        g, scalar_t(beta), n);
  });
  SP_CUDA_LAUNCH_CHECK();
}

void gap_fwd_cuda(Stream& s, const Tensor& y, const Tensor& x, Layout layout) {
  const int64_t planes = y.numel(), hw = x.numel() / planes, c = x.size(channel_axis(layout));
  SP_DISPATCH_FLOAT(x.dtype(), "global_avg_pool", {
    if (layout == Layout::nhwc)
      gap_fwd_nhwc_kernel<scalar_t><<<grid_1d(planes), kBlock, 0, cuda_stream(s)>>>(
          y.data<scalar_t>(), x.data<scalar_t>(), c, hw, planes);
    else
      gap_fwd_kernel<scalar_t><<<grid_1d(planes * 32), kBlock, 0, cuda_stream(s)>>>(y.data<scalar_t>(),
                                                                                    x.data<scalar_t>(), planes, hw);
  });
  SP_CUDA_LAUNCH_CHECK();
}

void gap_bwd_cuda(Stream& s, const Tensor& dx, const Tensor& gy, double beta, Layout layout) {
  const int64_t n = dx.numel(), hw = n / gy.numel(), c_last = layout == Layout::nhwc ? dx.size(3) : 0;
  SP_DISPATCH_FLOAT(gy.dtype(), "global_avg_pool backward", {
    gap_bwd_kernel<scalar_t><<<grid_1d(n), kBlock, 0, cuda_stream(s)>>>(dx.data<scalar_t>(), gy.data<scalar_t>(), hw,
                                                                        c_last, scalar_t(beta), n);
  });
  SP_CUDA_LAUNCH_CHECK();
}

}  // namespace
SP_REGISTER_KERNEL(k_max_pool2d_fwd, CUDA, max_fwd_cuda);
SP_REGISTER_KERNEL(k_max_pool2d_bwd, CUDA, max_bwd_cuda);
SP_REGISTER_KERNEL(k_max_pool2d_gather, CUDA, max_gather_cuda);
SP_REGISTER_KERNEL(k_avg_pool2d_fwd, CUDA, avg_fwd_cuda);
SP_REGISTER_KERNEL(k_avg_pool2d_bwd, CUDA, avg_bwd_cuda);
SP_REGISTER_KERNEL(k_global_avg_pool_fwd, CUDA, gap_fwd_cuda);
SP_REGISTER_KERNEL(k_global_avg_pool_bwd, CUDA, gap_bwd_cuda);
}  // namespace sp
