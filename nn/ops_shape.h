// Shape autograd ops: concat of N tensors along an axis (its backward hands each input its slice of the
// gradient), narrow (a slice [start, start + len) along an axis, copied; its backward pads with zeros),
// permute (a copy with the axes reordered, e.g. NCHW <-> NHWC; its backward permutes back) and
// nearest upsampling of NCHW tensors by integer factors (its backward sums each block:
// upsample_nearest_grad, whose own backward is upsample_nearest). Every op has a differentiable backward.
// Kernels: kernels/concat.h, kernels/upsample.h. Tested in tests/test_ops_shape.cpp and
// tests/gpu/test_ops_shape_gpu.cpp.
#pragma once
#include <vector>

#include "kernels/layout.h"
#include "nn/tape.h"

namespace sp::ag {

Var concat(Tape& t, const std::vector<Var>& xs, int axis);
Var narrow(Tape& t, Var x, int axis, int64_t start, int64_t len);
// y = x with axes reordered: y's axis i is x's axis order[i] (contiguous copy).
Var permute(Tape& t, Var x, const Shape& order);
// An activation moved between layouts: [N, C, H, W] -> [N, H, W, C] when `to` is nhwc, the inverse when it is
// nchw (a 4-D x is taken to be in the other layout).
Var to_layout(Tape& t, Var x, Layout to);
Var upsample_nearest(Tape& t, Var x, int64_t sh, int64_t sw);
// The adjoint of upsample_nearest: gy [N, C, H*sh, W*sw] -> [N, C, H, W], each block summed.
Var upsample_nearest_grad(Tape& t, Var gy, int64_t sh, int64_t sw);

}  // namespace sp::ag
