// Reduction autograd ops over a list of axes (negative counts from the end, no repeats) with keepdim, and
// full reductions to a scalar (shape []). max's gradient goes to the maximum; among tied maxima only the
// first in row-major order receives it (NaN counts as the largest value). Broadcasting as ops: expand(x,
// shape) repeats size-1 (or missing leading) dims, sum_to(x, shape) sums x onto a shape it broadcasts from;
// each is the other's adjoint, so every op here has a differentiable backward. Kernels: kernels/reduce.h.
// Tested in tests/test_ops_reduce.cpp and tests/gpu/test_ops_reduce_gpu.cpp.
#pragma once
#include <vector>

#include "nn/tape.h"

namespace sp::ag {

Var sum(Tape& t, Var x, const std::vector<int>& axes, bool keepdim = false);
Var sum(Tape& t, Var x);
Var mean(Tape& t, Var x, const std::vector<int>& axes, bool keepdim = false);
Var mean(Tape& t, Var x);
Var max(Tape& t, Var x, const std::vector<int>& axes, bool keepdim = false);
Var max(Tape& t, Var x);

Var expand(Tape& t, Var x, const Shape& shape);
Var sum_to(Tape& t, Var x, const Shape& shape);

}  // namespace sp::ag
