// Differentiable augmentation ops on the tape (DSA), linear in the image x [N, C, H, W]:
//   grid_sample(x, grid, align_corners): bilinear sampling with zero padding at a constant grid
//     [N, OH, OW, 2] (PyTorch semantics; no gradient w.r.t. the grid: DSA samples it, never learns it);
//     its backward is grid_sample_grad (the adjoint, a scatter of the bilinear weights), whose own backward
//     is grid_sample again, so gradients are differentiable to any order.
//   remap(x, params): the integer per-sample translation / horizontal flip of kernels/remap.h with constant
//     params i32 [N, 3] (dy, dx, flip); its backward remap_grad is the inverse remap, and vice versa.
// Grids come from sp::affine_grid_tensor (kernels/grid_sample.h). Tested in tests/test_ops_augment.cpp
// (values, first- and second-order checks) and tests/gpu/test_ops_augment_gpu.cpp.
#pragma once
#include "kernels/grid_sample.h"
#include "kernels/remap.h"
#include "nn/tape.h"

namespace sp::ag {

Var grid_sample(Tape& t, Var x, const Tensor& grid, bool align_corners);
// The adjoint of grid_sample for an input of h x w pixels: gy [N, C, OH, OW] -> [N, C, h, w].
Var grid_sample_grad(Tape& t, Var gy, const Tensor& grid, int64_t h, int64_t w, bool align_corners);

Var remap(Tape& t, Var x, const Tensor& params);
// The adjoint of remap (the inverse remap): gy [N, C, H, W] -> [N, C, H, W].
Var remap_grad(Tape& t, Var gy, const Tensor& params);

}  // namespace sp::ag
