// Elementwise autograd ops: activations (relu, leaky_relu, silu, sigmoid, tanh), exp, sqrt, rsqrt (x^-1/2) and the
// binary operators add, sub, mul, div with NumPy broadcasting (a [3, 1, 4] and b [2, 1] give [3, 2, 4]);
// inputs may be strided views. The gradient of a broadcast input is summed back onto its shape. Every op
// has a differentiable backward built from these ops (relu's and leaky_relu's masks are constants).
// Kernels: kernels/elementwise.h. Tested in tests/test_ops_elementwise.cpp (values, first- and second-order
// gradient checks) and tests/gpu/test_ops_elementwise_gpu.cpp.
#pragma once
#include "nn/tape.h"

namespace sp::ag {

Var relu(Tape& t, Var x);
Var leaky_relu(Tape& t, Var x, double negative_slope = 0.01);
Var silu(Tape& t, Var x);  // x * sigmoid(x)
Var sigmoid(Tape& t, Var x);
Var tanh(Tape& t, Var x);
Var exp(Tape& t, Var x);
Var rsqrt(Tape& t, Var x);  // 1 / sqrt(x)
Var sqrt(Tape& t, Var x);

Var add(Tape& t, Var a, Var b);
Var sub(Tape& t, Var a, Var b);
Var mul(Tape& t, Var a, Var b);
Var div(Tape& t, Var a, Var b);

// relu's derivative as a constant on the tape: 1 where `saved` is positive, else 0. `saved` is relu's input or
// its output (positive exactly where the input is), so fused ops that keep only the output use it too
// (nn/ops_norm.cpp's epilogue).
Var relu_mask(Tape& t, Var saved);

// A constant on the tape (no gradient): a scalar of x's dtype, for expressions like 1 - y.
Var constant_like(Tape& t, Var x, double value);

}  // namespace sp::ag
