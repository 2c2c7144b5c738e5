// Kernel objects and validating wrappers for affine_grid and grid_sample (see grid_sample.h).
#include "kernels/grid_sample.h"

#include "kernels/arg_check.h"

namespace sp {

constinit Kernel<AffineGridFn> k_affine_grid("affine_grid");
constinit Kernel<GridSampleFwdFn> k_grid_sample_fwd("grid_sample_fwd");
constinit Kernel<GridSampleBwdFn> k_grid_sample_bwd("grid_sample_bwd");

namespace {

Shape x_shape(const GridSampleGeom& g) { return {g.n, g.c, g.h, g.w}; }
Shape y_shape(const GridSampleGeom& g) { return {g.n, g.c, g.oh, g.ow}; }
Shape grid_shape(const GridSampleGeom& g) { return {g.n, g.oh, g.ow, 2}; }

}  // namespace

void affine_grid_forward(Stream& s, const Tensor& grid, const Tensor& theta, bool align_corners) {
  check_float_input("affine_grid", theta, s, "theta");
  SP_CHECK(theta.dim() == 3 && theta.size(1) == 2 && theta.size(2) == 3, "affine_grid: theta must be [N, 2, 3], got ",
           theta.shape());
  SP_CHECK(grid.defined() && grid.dim() == 4 && grid.size(0) == theta.size(0) && grid.size(3) == 2,
           "affine_grid: grid ", grid.defined() ? grid.str() : std::string("(undefined)"),
           " must be [N, H, W, 2] with N = ", theta.size(0), " (theta ", theta.shape(), ")");
  check_operand(s, "affine_grid", "grid", grid, grid.shape(), theta.dtype(), theta.device());
  if (grid.numel() == 0) return;
  k_affine_grid(theta.device(), s, grid, theta, align_corners);
}

Tensor affine_grid_tensor(Stream& s, const Tensor& theta, int64_t h, int64_t w, bool align_corners) {
  SP_CHECK(h >= 1 && w >= 1, "affine_grid: output size ", h, "x", w, " must be positive");
  SP_CHECK(theta.defined() && theta.dim() == 3, "affine_grid: theta must be [N, 2, 3], got ",
           theta.defined() ? theta.str() : std::string("(undefined)"));
  Tensor grid = Tensor::empty({theta.size(0), h, w, 2}, theta.dtype(), s);
  affine_grid_forward(s, grid, theta, align_corners);
  return grid;
}

GridSampleGeom grid_sample_geometry(const char* op, const Tensor& x, const Tensor& grid, bool align_corners) {
  SP_CHECK(x.defined() && grid.defined(), op, ": input or grid is undefined");
  SP_CHECK(x.dim() == 4, op, ": input must be 4-D NCHW, got ", x.shape(), " (grid ", grid.shape(), ")");
  SP_CHECK(x.dtype() == DType::f32 || x.dtype() == DType::f64, op, ": input ", x.str(), " must be f32 or f64");
  SP_CHECK(grid.dim() == 4 && grid.size(3) == 2 && grid.size(0) == x.size(0), op, ": grid ", grid.shape(),
           " must be [N, OH, OW, 2] with N = ", x.size(0), " (input ", x.shape(), ")");
  check_same_kind(op, "grid", grid, x);
  SP_CHECK(x.size(2) >= 1 && x.size(3) >= 1, op, ": input ", x.shape(), " has an empty plane");
  GridSampleGeom g;
  g.n = x.size(0), g.c = x.size(1), g.h = x.size(2), g.w = x.size(3);
  g.oh = grid.size(1), g.ow = grid.size(2);
  g.align_corners = align_corners;
  return g;
}

void grid_sample_forward(Stream& s, const Tensor& y, const Tensor& x, const Tensor& grid, const GridSampleGeom& g,
                         double beta) {
  check_float_input("grid_sample", x, s);
  check_operand(s, "grid_sample", "input", x, x_shape(g), x.dtype(), x.device());
  check_operand(s, "grid_sample", "grid", grid, grid_shape(g), x.dtype(), x.device());
  check_operand(s, "grid_sample", "output", y, y_shape(g), x.dtype(), x.device());
  if (y.numel() == 0) return;
  k_grid_sample_fwd(x.device(), s, y, x, grid, g, beta);
}

void grid_sample_backward(Stream& s, const Tensor& dx, const Tensor& gy, const Tensor& grid, const GridSampleGeom& g,
                          double beta) {
  check_float_input("grid_sample backward", gy, s, "output gradient");
  check_operand(s, "grid_sample backward", "output gradient", gy, y_shape(g), gy.dtype(), gy.device());
  check_operand(s, "grid_sample backward", "grid", grid, grid_shape(g), gy.dtype(), gy.device());
  check_operand(s, "grid_sample backward", "input gradient", dx, x_shape(g), gy.dtype(), gy.device());
  if (dx.numel() == 0) return;
  k_grid_sample_bwd(gy.device(), s, dx, gy, grid, g, beta);
}

}  // namespace sp
