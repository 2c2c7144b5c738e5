// float32 batch normalisation with the channels innermost ([M, C]: the view of a channels-last [N, H, W, C]
// activation that ag::batch_norm hands the kernels, and any [N, C] input), for the CPU fast path: each
// channel's values are C apart, so the per-channel loops of batchnorm_fast.cpp would read one float per cache
// line. Here every pass walks whole rows, vectorised across channels. Rows are taken in blocks of a fixed size
// (independent of the thread count), each block's per-channel sums kept apart and added in block order, so
// results do not depend on the thread count. batch_norm_fwd_f32 / batch_norm_bwd_f32 (batchnorm_fast.h) route
// [M, C] inputs here with their unpacked pointers; checked against the float64 reference in
// tests/test_ops_nhwc.cpp, tests/test_cpu_fast_path.cpp and tests/test_models_nhwc.cpp.
#pragma once
#include "kernels/cpu/norm_ptrs.h"

namespace sp::cpu {

// The fused epilogue's tensors (kernels/batchnorm.h), nullptr where absent: the forward's residual; the
// backward's saved output (for the ReLU mask) and residual gradient.
struct BnEpiloguePtrs {
  const float* residual = nullptr;
  const float* y = nullptr;
  float* dresidual = nullptr;
  bool relu = false;
  float beta_r = 0;
};

void batch_norm_last_fwd(const NormFwdPtrs& p, const BnEpiloguePtrs& e, int64_t M, int64_t C, bool training,
                         double momentum, double eps);
void batch_norm_last_bwd(const NormBwdPtrs& p, const BnEpiloguePtrs& e, int64_t M, int64_t C, bool training,
                         double beta_x, double beta_w, double beta_b);

}  // namespace sp::cpu
