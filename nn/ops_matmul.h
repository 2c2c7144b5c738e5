// Matrix products on the tape:
//   matmul(a, b, trans_a, trans_b): op(a) op(b) with op(X) = X or X^T over the last two dims;
//     [M, K] x [K, N] -> [M, N], or batched [B, M, K] x [B, K, N] -> [B, M, N];
//   linear(x, w, bias): x [..., in], w [out, in] (PyTorch layout), optional bias [out] -> [..., out],
//     y = x w^T + bias.
// Backward passes are GEMMs that accumulate straight into the gradient sinks (GEMM beta); the
// differentiable backward of both is matmul with the transposes chosen so no transposed copy is made.
// Kernels: kernels/matmul.h, kernels/bias.h. Tested in tests/test_ops_matmul.cpp and
// tests/gpu/test_ops_matmul_gpu.cpp.
#pragma once
#include "nn/tape.h"

namespace sp::ag {

Var matmul(Tape& t, Var a, Var b, bool trans_a = false, bool trans_b = false);
// Pass Var{} (invalid) for no bias.
Var linear(Tape& t, Var x, Var w, Var bias = {});

}  // namespace sp::ag
