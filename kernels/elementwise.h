// Elementwise kernels: the activation family (one kernel, the function chosen by Act) with its backward,
// and the binary operators add/sub/mul/div with NumPy broadcasting. Inputs may be strided or broadcast
// views; outputs are contiguous and must not overlap the inputs. Per-element math: elementwise_math.h.
// Tested in tests/test_ops_elementwise.cpp and tests/gpu/test_ops_elementwise_gpu.cpp.
#pragma once
#include "kernels/elementwise_math.h"
#include "kernels/registry.h"
#include "kernels/strided_iter.h"
#include "kernels/tensor.h"

namespace sp {

// y = act(x); y contiguous with x's shape.
using ActivationFn = void(Stream&, const Tensor& y, const Tensor& x, Act act, double slope);
// gx = act'(.) * gy + beta * gx; `saved` is y or x per act_backward_uses_output(act). gx and gy contiguous.
using ActivationBackwardFn = void(Stream&, const Tensor& gx, const Tensor& gy, const Tensor& saved, Act act,
                                  double slope, double beta);
// out = alpha * (a op b) + beta * out with a and b broadcast to out's shape.
using BinaryFn = void(Stream&, const Tensor& out, const Tensor& a, const Tensor& b, BinaryOp op, double alpha,
                      double beta);
extern Kernel<ActivationFn> k_activation;
extern Kernel<ActivationBackwardFn> k_activation_backward;
extern Kernel<BinaryFn> k_binary;

// Validating wrappers (shapes, dtypes, devices, contiguity of outputs).
void activation(Stream& s, const Tensor& y, const Tensor& x, Act act, double slope = 0.0);
void activation_backward(Stream& s, const Tensor& gx, const Tensor& gy, const Tensor& saved, Act act,
                         double slope, double beta);
void binary(Stream& s, const Tensor& out, const Tensor& a, const Tensor& b, BinaryOp op, double alpha = 1.0,
            double beta = 0.0);

// Offsets of a and b for each linear index of the (contiguous) output: what both backends iterate with.
StridedIter<2> binary_iter(const Tensor& out, const Tensor& a, const Tensor& b);

// NumPy broadcasting: shapes align on the right and each pair of sizes must be equal or contain a 1.
Shape broadcast_shapes(const char* op, const Shape& a, const Shape& b);

}  // namespace sp
