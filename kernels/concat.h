// Concatenation along one axis and its backward (each part's slice of the output gradient, accumulated
// with that part's beta). All tensors contiguous, one floating dtype and device; inputs agree in every dim
// but `axis`. Index math: kernels/shape_math.h. Tested in tests/test_ops_shape.cpp and
// tests/gpu/test_ops_shape_gpu.cpp.
#pragma once
#include <span>

#include "kernels/registry.h"
#include "kernels/tensor.h"

namespace sp {

// One part's gradient: grad = gy.narrow(axis, start, grad.size(axis)) + beta * grad.
struct ConcatGrad {
  Tensor grad;
  int64_t start = 0;
  double beta = 0.0;
};

using ConcatFn = void(Stream&, const Tensor& out, std::span<const Tensor> parts, int axis);
// The grads must not overlap each other: the CUDA kernel writes them concurrently.
using ConcatBackwardFn = void(Stream&, std::span<const ConcatGrad> grads, const Tensor& gy, int axis);
extern Kernel<ConcatFn> k_concat;
extern Kernel<ConcatBackwardFn> k_concat_backward;

// Shape of concatenating `parts` along `axis` (negative counts from the end); throws naming the shapes.
Shape concat_shape(std::span<const Tensor> parts, int axis);
// Validating wrappers.
void concat(Stream& s, const Tensor& out, std::span<const Tensor> parts, int axis);
void concat_backward(Stream& s, std::span<const ConcatGrad> grads, const Tensor& gy, int axis);

// The [outer, len, inner] view both backends use: outer = prod(shape[:axis]), inner = prod(shape[axis+1:]).
struct ConcatGeom {
  int64_t outer = 1, inner = 1;
  int64_t total = 0;  // output size along the axis
};
ConcatGeom concat_geom(const Shape& out, int axis);

}  // namespace sp
