// The inverted-dropout mask: m_i = 1 / (1 - p) when u_i >= p, else 0, with u_i uniform in [0, 1) from
// Philox keyed by (key, stream id) for flat element i (kernels/dropout_math.h), so the same (key, stream
// id) gives the same mask on every backend and for any launch geometry. The op y = x * m is ag::dropout
// (nn/ops_dropout.h). CPU reference kernels/cpu/dropout.cpp, CUDA kernels/cuda/dropout.cu (one thread per
// Philox block of four elements); tested in tests/test_ops_dropout.cpp and tests/gpu/test_ops_dropout_gpu.cpp.
#pragma once
#include <cstdint>

#include "kernels/registry.h"
#include "kernels/tensor.h"

namespace sp {

using DropoutMaskFn = void(Stream&, const Tensor& mask, double p, uint64_t key, uint64_t stream_id);
extern Kernel<DropoutMaskFn> k_dropout_mask;

// Validating wrapper: mask contiguous f32/f64 on the stream's device, p in [0, 1).
void dropout_mask(Stream& s, const Tensor& mask, double p, uint64_t key, uint64_t stream_id);

}  // namespace sp
