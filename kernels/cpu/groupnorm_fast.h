// float32 group normalisation for the CPU fast path (cpu::fast_path()): (image, group) pairs in parallel,
// statistics by two streaming passes over the group's contiguous values (float lanes, double across), the
// affine map and the input gradient with per-channel coefficients hoisted out of the inner loops. Same semantics
// and signatures as the reference of kernels/cpu/groupnorm.cpp, which float64 keeps using; checked against it
// in tests/test_cpu_fast_path.cpp.
#pragma once
#include "kernels/tensor.h"

namespace sp::cpu {

void group_norm_fwd_f32(const Tensor& y, const Tensor& save_mean, const Tensor& save_invstd, const Tensor& x,
                        const Tensor& weight, const Tensor& bias, int64_t groups, double eps);
void group_norm_bwd_f32(const Tensor& dx, const Tensor& dweight, const Tensor& dbias, const Tensor& dy,
                        const Tensor& x, const Tensor& save_mean, const Tensor& save_invstd, const Tensor& weight,
                        int64_t groups, double beta_x, double beta_w, double beta_b);

}  // namespace sp::cpu
