// float32 batch normalisation with the channels innermost ([M, C]: the view of a channels-last [N, H, W, C]
// activation that ag::batch_norm hands the kernels, and any [N, C] input), for the CPU fast path: each
// channel's values are C apart, so the per-channel loops of batchnorm_fast.cpp would read one float per cache
// line. Here every pass walks whole rows, vectorised across channels. Rows are taken in blocks of a fixed size
// (independent of the thread count), each block's per-channel sums kept apart and added in block order, so
// results do not depend on the thread count. Same semantics and signatures as batchnorm_fast.h, which
// routes [M, C] inputs here; checked against the float64 reference in tests/test_cpu_fast_path.cpp.
#pragma once
#include "kernels/tensor.h"

namespace sp::cpu {

void batch_norm_last_fwd_f32(const Tensor& y, const Tensor& save_mean, const Tensor& save_invstd, const Tensor& x,
                             const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                             const Tensor& running_var, bool training, double momentum, double eps);
void batch_norm_last_bwd_f32(const Tensor& dx, const Tensor& dweight, const Tensor& dbias, const Tensor& dy,
                             const Tensor& x, const Tensor& save_mean, const Tensor& save_invstd,
                             const Tensor& weight, bool training, double beta_x, double beta_w, double beta_b);

}  // namespace sp::cpu
