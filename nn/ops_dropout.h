// Inverted dropout as a tape op: y = x * m with m_i = 1 / (1 - p) when u_i >= p and 0 otherwise, u_i a
// uniform in [0, 1) from Philox keyed by (key, stream_id) for flat element i (kernels/dropout.h), so a
// mask is reproducible from its (key, stream_id) and identical on CPU and CUDA. The caller picks a fresh
// stream_id per call site and step (e.g. step * layers + layer). The gradient is gy * m, the mask a
// constant, so the backward is differentiable (gx = mul(gy, m)). Tested in tests/test_ops_dropout.cpp
// (mask statistics and reproducibility, gradient checks) and tests/gpu/test_ops_dropout_gpu.cpp.
#pragma once
#include <cstdint>

#include "nn/tape.h"

namespace sp::ag {

// p in [0, 1) (sp::Error naming "dropout" otherwise); p == 0 returns x itself and records nothing, as
// does evaluation mode, which callers express by passing p = 0.
Var dropout(Tape& t, Var x, double p, uint64_t key, uint64_t stream_id);

}  // namespace sp::ag
