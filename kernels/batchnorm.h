// Batch normalisation over [N, C, *] (statistics per channel over N and the trailing dims), with PyTorch's
// semantics: training normalises with the batch mean and biased variance and, when running statistics are
// given, updates them in place (running_mean <- (1-m) running_mean + m mean, running_var likewise with the
// unbiased variance); eval normalises with the running statistics. weight and bias are optional (undefined
// tensor = absent). The forward saves per-channel mean and invstd = 1/sqrt(var + eps) for the backward.
// CPU reference kernels/cpu/batchnorm.cpp, CUDA kernels/cuda/batchnorm.cu; tested in
// tests/test_ops_norm.cpp and tests/gpu/test_ops_norm_gpu.cpp.
#pragma once
#include "kernels/registry.h"
#include "kernels/tensor.h"

namespace sp {

using BatchNormFwdFn = void(Stream&, const Tensor& y, const Tensor& save_mean, const Tensor& save_invstd,
                            const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                            const Tensor& running_var, bool training, double momentum, double eps);
// Gradients for input, weight and bias; each output may be undefined (not wanted). training selects the
// full batch-statistics backward; otherwise the statistics are constants (eval mode).
using BatchNormBwdFn = void(Stream&, const Tensor& dx, const Tensor& dweight, const Tensor& dbias, const Tensor& dy,
                            const Tensor& x, const Tensor& save_mean, const Tensor& save_invstd, const Tensor& weight,
                            bool training, double beta_x, double beta_w, double beta_b);
extern Kernel<BatchNormFwdFn> k_batch_norm_fwd;
extern Kernel<BatchNormBwdFn> k_batch_norm_bwd;

// Validating wrappers: shapes ([C] for every per-channel tensor), dtypes, devices, contiguity; training
// needs more than one value per channel, eval needs running statistics.
void batch_norm_forward(Stream& s, const Tensor& y, const Tensor& save_mean, const Tensor& save_invstd, const Tensor& x,
                        const Tensor& weight, const Tensor& bias, const Tensor& running_mean, const Tensor& running_var,
                        bool training, double momentum, double eps);
void batch_norm_backward(Stream& s, const Tensor& dx, const Tensor& dweight, const Tensor& dbias, const Tensor& dy,
                         const Tensor& x, const Tensor& save_mean, const Tensor& save_invstd, const Tensor& weight,
                         bool training, double beta_x, double beta_w, double beta_b);

}  // namespace sp
