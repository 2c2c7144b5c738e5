// Shape autograd ops: concat of N tensors along an axis (its backward hands each input its slice of the
// gradient) and nearest upsampling of NCHW tensors by integer factors (its backward sums each block).
// Kernels: kernels/concat.h, kernels/upsample.h. Tested in tests/test_ops_shape.cpp and
// tests/gpu/test_ops_shape_gpu.cpp.
#pragma once
#include <vector>

#include "nn/tape.h"

namespace sp::ag {

Var concat(Tape& t, const std::vector<Var>& xs, int axis);
Var upsample_nearest(Tape& t, Var x, int64_t sh, int64_t sw);

}  // namespace sp::ag
