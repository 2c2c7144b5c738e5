// affine_grid and bilinear grid_sample (zero padding) over contiguous tensors, PyTorch semantics (see
// grid_sample_math.h), plus grid_sample's adjoint with respect to the input image. The grid is a constant
// here (DSA samples it), so no gradient w.r.t. the grid is provided. grid_sample's forward and adjoint both
// follow the GradSink rule out = result + beta * out (beta 0: out is not read), so each serves as the
// other's backward without temporaries. The adjoint scatters each output gradient onto its four taps: on
// the CPU sequentially (deterministic), on CUDA with atomicAdd (the grid is arbitrary, so the set of outputs
// reaching an input pixel is not known in advance; f32 sums may differ in the last bits from run to run).
// Tested in tests/test_ops_augment.cpp and tests/gpu/test_ops_augment_gpu.cpp.
#pragma once
#include "kernels/grid_sample_math.h"
#include "kernels/registry.h"
#include "kernels/tensor.h"

namespace sp {

// grid: [N, H, W, 2]; theta: [N, 2, 3].
using AffineGridFn = void(Stream&, const Tensor& grid, const Tensor& theta, bool align_corners);
// y: [N, C, OH, OW]; x: [N, C, H, W]; grid: [N, OH, OW, 2].
using GridSampleFwdFn = void(Stream&, const Tensor& y, const Tensor& x, const Tensor& grid, const GridSampleGeom&,
                             double beta);
// dx: [N, C, H, W]; gy: [N, C, OH, OW].
using GridSampleBwdFn = void(Stream&, const Tensor& dx, const Tensor& gy, const Tensor& grid, const GridSampleGeom&,
                             double beta);
extern Kernel<AffineGridFn> k_affine_grid;
extern Kernel<GridSampleFwdFn> k_grid_sample_fwd;
extern Kernel<GridSampleBwdFn> k_grid_sample_bwd;

// grid [N, H, W, 2] from theta [N, 2, 3] (same float dtype and device); H and W come from grid's shape.
void affine_grid_forward(Stream& s, const Tensor& grid, const Tensor& theta, bool align_corners);
// Allocates the grid for an [N, C, H, W] target (C is irrelevant): affine_grid(theta, size) in PyTorch.
Tensor affine_grid_tensor(Stream& s, const Tensor& theta, int64_t h, int64_t w, bool align_corners);

// Validates x [N, C, H, W] and grid [N, OH, OW, 2] (float, same dtype and device, contiguous, H and W >= 1)
// and returns the geometry; `op` names the caller in errors.
GridSampleGeom grid_sample_geometry(const char* op, const Tensor& x, const Tensor& grid, bool align_corners);
// y = grid_sample(x, grid) + beta * y.
void grid_sample_forward(Stream& s, const Tensor& y, const Tensor& x, const Tensor& grid, const GridSampleGeom& g,
                         double beta);
// dx = (d <gy, grid_sample(x, grid)> / dx) + beta * dx.
void grid_sample_backward(Stream& s, const Tensor& dx, const Tensor& gy, const Tensor& grid, const GridSampleGeom& g,
                          double beta);

}  // namespace sp
