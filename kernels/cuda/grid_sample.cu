// CUDA affine_grid and grid_sample kernels (see kernels/grid_sample.h), on the same grid_sample_math.h
// functions as the CPU: one thread per grid point (affine_grid) or output element (forward). The adjoint
// first applies beta to dx (one thread per input element), then one thread per output gradient element
// adds its four weighted taps with atomicAdd (sm_60+ for f64): a gather formulation would need the inverse
// of an arbitrary grid. Compared with the CPU in tests/gpu/test_ops_augment_gpu.cpp.
#include "kernels/cuda/cuda_context.h"
#include "kernels/dispatch.h"
#include "kernels/grid_sample.h"

namespace sp {
namespace {

#define SP_GS_GRID_STRIDE(i, n) \
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < (n); i += int64_t(gridDim.x) * blockDim.x)

template <class T>
__global__ void affine_grid_kernel(T* grid, const T* theta, int64_t h, int64_t w, bool align_corners, int64_t n) {
  SP_GS_GRID_STRIDE(p, n) {
    int64_t j = p % w, rest = p / w, i = rest % h, b = rest / h;
    affine_grid_point(theta + b * 6, i, j, h, w, align_corners, grid + p * 2, grid + p * 2 + 1);
  }
}

template <class T>
__global__ void grid_sample_fwd_kernel(T* y, const T* x, const T* grid, GridSampleGeom g, T beta, int64_t n) {
  SP_GS_GRID_STRIDE(o, n) {
    int64_t j = o % g.ow, rest = o / g.ow, i = rest % g.oh, nc = rest / g.oh, b = nc / g.c;
    const T* pt = grid + ((b * g.oh + i) * g.ow + j) * 2;
    BilinearTaps<T> taps = bilinear_taps(pt[0], pt[1], g.h, g.w, g.align_corners);
    T v = bilinear_sample(x + nc * g.h * g.w, taps);
    y[o] = beta == T(0) ? v : v + beta * y[o];
  }
}

template <class T>
__global__ void scale_by_beta_kernel(T* dx, T beta, int64_t n) {
  SP_GS_GRID_STRIDE(k, n) { dx[k] = beta == T(0) ? T(0) : beta * dx[k]; }
}

template <class T>
__global__ void grid_sample_bwd_kernel(T* dx, const T* gy, const T* grid, GridSampleGeom g, int64_t n) {
  SP_GS_GRID_STRIDE(o, n) {
    int64_t j = o % g.ow, rest = o / g.ow, i = rest % g.oh, nc = rest / g.oh, b = nc / g.c;
    const T* pt = grid + ((b * g.oh + i) * g.ow + j) * 2;
    BilinearTaps<T> taps = bilinear_taps(pt[0], pt[1], g.h, g.w, g.align_corners);
    T u = gy[o];
    T* plane = dx + nc * g.h * g.w;
    for (int t = 0; t < 4; ++t)
      if (taps.off[t] >= 0) atomicAdd(plane + taps.off[t], taps.wt[t] * u);
  }
}

void affine_grid_cuda(Stream& s, const Tensor& grid, const Tensor& theta, bool align_corners) {
  const int64_t h = grid.size(1), w = grid.size(2), n = grid.size(0) * h * w;
  SP_DISPATCH_FLOAT(theta.dtype(), "affine_grid", {
    affine_grid_kernel<scalar_t><<<grid_1d(n), kBlock, 0, cuda_stream(s)>>>(
        grid.data<scalar_t>(), theta.data<scalar_t>(), h, w, align_corners, n);
  });
  SP_CUDA_LAUNCH_CHECK();
}

void grid_sample_fwd_cuda(Stream& s, const Tensor& y, const Tensor& x, const Tensor& grid, const GridSampleGeom& g,
                          double beta) {
  const int64_t n = y.numel();
  SP_DISPATCH_FLOAT(x.dtype(), "grid_sample", {
    grid_sample_fwd_kernel<scalar_t><<<grid_1d(n), kBlock, 0, cuda_stream(s)>>>(
        y.data<scalar_t>(), x.data<scalar_t>(), grid.data<scalar_t>(), g, scalar_t(beta), n);
  });
  SP_CUDA_LAUNCH_CHECK();
}

void grid_sample_bwd_cuda(Stream& s, const Tensor& dx, const Tensor& gy, const Tensor& grid, const GridSampleGeom& g,
                          double beta) {
  const int64_t nx = dx.numel(), ny = gy.numel();
  SP_DISPATCH_FLOAT(gy.dtype(), "grid_sample backward", {
    scale_by_beta_kernel<scalar_t><<<grid_1d(nx), kBlock, 0, cuda_stream(s)>>>(dx.data<scalar_t>(), scalar_t(beta), nx);
    SP_CUDA_LAUNCH_CHECK();
    if (ny > 0) {
      grid_sample_bwd_kernel<scalar_t><<<grid_1d(ny), kBlock, 0, cuda_stream(s)>>>(
          dx.data<scalar_t>(), gy.data<scalar_t>(), grid.data<scalar_t>(), g, ny);
      SP_CUDA_LAUNCH_CHECK();
    }
  });
}

}  // namespace
SP_REGISTER_KERNEL(k_affine_grid, CUDA, affine_grid_cuda);
SP_REGISTER_KERNEL(k_grid_sample_fwd, CUDA, grid_sample_fwd_cuda);
SP_REGISTER_KERNEL(k_grid_sample_bwd, CUDA, grid_sample_bwd_cuda);
}  // namespace sp
