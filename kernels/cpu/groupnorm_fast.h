// float32 group normalisation and its fused epilogue (kernels/groupnorm.h) for the CPU fast path
// (cpu::fast_path()): (image, group) pairs in parallel, statistics by two streaming passes over the group's
// contiguous values (float lanes, double across), the affine map and the input gradient with per-channel
// coefficients hoisted out of the inner loops. Same semantics as the reference of kernels/cpu/groupnorm.cpp,
// which float64 keeps using; checked against it in tests/test_cpu_fast_path.cpp.
#pragma once
#include "kernels/groupnorm.h"

namespace sp::cpu {

void group_norm_fwd_f32(const GroupNormFwdArgs& a);
void group_norm_bwd_f32(const GroupNormBwdArgs& a);

}  // namespace sp::cpu
