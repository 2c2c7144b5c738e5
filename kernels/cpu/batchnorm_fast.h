// float32 batch normalisation and its fused epilogue (residual add, ReLU; kernels/batchnorm.h) for the CPU
// fast path (cpu::fast_path()): channels in parallel on the CPU thread pool, statistics by two passes (mean,
// then centred squares) summed in eight float lanes per image row and in double across rows, and loops the
// compiler vectorises. Same semantics as the reference kernels of kernels/cpu/batchnorm.cpp, which stay in
// use for float64; checked against them in tests/test_cpu_fast_path.cpp. [M, C] inputs (channels innermost,
// as channels-last batch norm passes them) go to batchnorm_last.h.
#pragma once
#include "kernels/batchnorm.h"

namespace sp::cpu {

void batch_norm_fwd_f32(const BatchNormFwdArgs& a);
void batch_norm_bwd_f32(const BatchNormBwdArgs& a);

}  // namespace sp::cpu
