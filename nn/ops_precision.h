// Emulated reduced-precision storage on the tape, the CPU-checkable semantics of precision "bf16" (issue 19
// item 7): round_bf16(x) holds x rounded to the nearest bfloat16 (kernels/round_bf16_math.h) in x's own dtype,
// and its gradient is the incoming gradient rounded the same way, as a bf16 pipeline stores an activation
// and, in the backward pass, that activation's gradient. The gradient is therefore not the derivative of
// rounding (zero almost everywhere) but the straight-through one of a cast, as PyTorch's autocast gives
// x.to(bfloat16). Placed where a bf16 step stores a tensor (weights before a conv/linear, each layer's output),
// it makes float32 arithmetic on the CPU reproduce a bf16 step up to accumulation order. Kernel:
// kernels/round_bf16.h. Tested in tests/test_ops_precision.cpp and tests/gpu/test_ops_precision_gpu.cpp.
#pragma once
#include "nn/tape.h"

namespace sp::ag {

Var round_bf16(Tape& t, Var x);

}  // namespace sp::ag
