// Group normalisation over [N, C, *] with PyTorch's semantics: the C channels form G groups of C/G
// consecutive channels; each (sample, group) is normalised with its own mean and biased variance (eps
// inside the square root), then the optional per-channel weight and bias apply. Instance norm is G = C.
// No running statistics. The forward saves mean and invstd per (n, g), shape [N, G], for the backward.
// CPU reference kernels/cpu/groupnorm.cpp, CUDA kernels/cuda/groupnorm.cu; tested in
// tests/test_ops_norm.cpp and tests/gpu/test_ops_norm_gpu.cpp.
#pragma once
#include "kernels/registry.h"
#include "kernels/tensor.h"

namespace sp {

using GroupNormFwdFn = void(Stream&, const Tensor& y, const Tensor& save_mean, const Tensor& save_invstd,
                            const Tensor& x, const Tensor& weight, const Tensor& bias, int64_t groups, double eps);
// Gradients for input, weight and bias; each output may be undefined (not wanted).
using GroupNormBwdFn = void(Stream&, const Tensor& dx, const Tensor& dweight, const Tensor& dbias, const Tensor& dy,
                            const Tensor& x, const Tensor& save_mean, const Tensor& save_invstd, const Tensor& weight,
                            int64_t groups, double beta_x, double beta_w, double beta_b);
extern Kernel<GroupNormFwdFn> k_group_norm_fwd;
extern Kernel<GroupNormBwdFn> k_group_norm_bwd;

// Validating wrappers: C divisible by groups, [C] weight/bias, [N, G] statistics, dtypes, devices.
void group_norm_forward(Stream& s, const Tensor& y, const Tensor& save_mean, const Tensor& save_invstd, const Tensor& x,
                        const Tensor& weight, const Tensor& bias, int64_t groups, double eps);
void group_norm_backward(Stream& s, const Tensor& dx, const Tensor& dweight, const Tensor& dbias, const Tensor& dy,
                         const Tensor& x, const Tensor& save_mean, const Tensor& save_invstd, const Tensor& weight,
                         int64_t groups, double beta_x, double beta_w, double beta_b);

}  // namespace sp
