// float32 batch normalisation for the CPU fast path (cpu::fast_path()): channels in parallel on the CPU
// thread pool, statistics by two passes (mean, then centred squares) summed in eight float lanes per image
// row and in double across rows, and loops the compiler vectorises. Same semantics and signatures as the
// reference kernels of kernels/cpu/batchnorm.cpp, which stay in use for float64; checked against them in
// tests/test_cpu_fast_path.cpp. [M, C] inputs (channels innermost, as channels-last batch norm passes them)
// go to batchnorm_last.h.
#pragma once
#include "kernels/tensor.h"

namespace sp::cpu {

void batch_norm_fwd_f32(const Tensor& y, const Tensor& save_mean, const Tensor& save_invstd, const Tensor& x,
                        const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                        const Tensor& running_var, bool training, double momentum, double eps);
void batch_norm_bwd_f32(const Tensor& dx, const Tensor& dweight, const Tensor& dbias, const Tensor& dy,
                        const Tensor& x, const Tensor& save_mean, const Tensor& save_invstd, const Tensor& weight,
                        bool training, double beta_x, double beta_w, double beta_b);

}  // namespace sp::cpu
