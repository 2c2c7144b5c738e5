// CPU affine_grid and grid_sample kernels (see kernels/grid_sample.h): loops over the shared math of
// grid_sample_math.h. The adjoint scatters sequentially, so it is deterministic.
#include "kernels/grid_sample.h"

#include "kernels/dispatch.h"

namespace sp {
namespace {

void affine_grid_cpu(Stream&, const Tensor& grid, const Tensor& theta, bool align_corners) {
  const int64_t n = grid.size(0), h = grid.size(1), w = grid.size(2);
  SP_DISPATCH_FLOAT(theta.dtype(), "affine_grid", {
    const scalar_t* tp = theta.data<scalar_t>();
    scalar_t* gp = grid.data<scalar_t>();
    for (int64_t b = 0; b < n; ++b)
      for (int64_t i = 0; i < h; ++i)
        for (int64_t j = 0; j < w; ++j) {
          scalar_t* o = gp + ((b * h + i) * w + j) * 2;
          affine_grid_point(tp + b * 6, i, j, h, w, align_corners, o, o + 1);
        }
  });
}

void grid_sample_fwd_cpu(Stream&, const Tensor& y, const Tensor& x, const Tensor& grid, const GridSampleGeom& g,
                         double beta) {
  SP_DISPATCH_FLOAT(x.dtype(), "grid_sample", {
    const scalar_t* xp = x.data<scalar_t>();
    const scalar_t* gp = grid.data<scalar_t>();
    scalar_t* yp = y.data<scalar_t>();
    const scalar_t b = scalar_t(beta);
    for (int64_t n = 0; n < g.n; ++n)
      for (int64_t i = 0; i < g.oh; ++i)
        for (int64_t j = 0; j < g.ow; ++j) {
          const scalar_t* pt = gp + ((n * g.oh + i) * g.ow + j) * 2;
          BilinearTaps<scalar_t> taps = bilinear_taps(pt[0], pt[1], g.h, g.w, g.align_corners);
          for (int64_t c = 0; c < g.c; ++c) {
            scalar_t v = bilinear_sample(xp + (n * g.c + c) * g.h * g.w, taps);
            scalar_t* o = yp + ((n * g.c + c) * g.oh + i) * g.ow + j;
            *o = b == scalar_t(0) ? v : v + b * *o;
          }
        }
  });
}

void grid_sample_bwd_cpu(Stream&, const Tensor& dx, const Tensor& gy, const Tensor& grid, const GridSampleGeom& g,
                         double beta) {
  SP_DISPATCH_FLOAT(gy.dtype(), "grid_sample backward", {
    scalar_t* dp = dx.data<scalar_t>();
    const scalar_t* gyp = gy.data<scalar_t>();
    const scalar_t* gp = grid.data<scalar_t>();
    const scalar_t b = scalar_t(beta);
    for (int64_t k = 0; k < dx.numel(); ++k) dp[k] = b == scalar_t(0) ? scalar_t(0) : b * dp[k];
    for (int64_t n = 0; n < g.n; ++n)
      for (int64_t i = 0; i < g.oh; ++i)
        for (int64_t j = 0; j < g.ow; ++j) {
          const scalar_t* pt = gp + ((n * g.oh + i) * g.ow + j) * 2;
          BilinearTaps<scalar_t> taps = bilinear_taps(pt[0], pt[1], g.h, g.w, g.align_corners);
          for (int64_t c = 0; c < g.c; ++c) {
            scalar_t u = gyp[((n * g.c + c) * g.oh + i) * g.ow + j];
            scalar_t* plane = dp + (n * g.c + c) * g.h * g.w;
            for (int t = 0; t < 4; ++t)
              if (taps.off[t] >= 0) plane[taps.off[t]] += taps.wt[t] * u;
          }
        }
  });
}

}  // namespace
SP_REGISTER_KERNEL(k_affine_grid, CPU, affine_grid_cpu);
SP_REGISTER_KERNEL(k_grid_sample_fwd, CPU, grid_sample_fwd_cpu);
SP_REGISTER_KERNEL(k_grid_sample_bwd, CPU, grid_sample_bwd_cpu);
}  // namespace sp
