// Batch normalisation over [N, C, *] (statistics per channel over N and the trailing dims), with PyTorch's
// semantics: training normalises with the batch mean and biased variance and, when running statistics are
// given, updates them in place (running_mean <- (1-m) running_mean + m mean, running_var likewise with the
// unbiased variance); eval normalises with the running statistics. weight and bias are optional (undefined
// tensor = absent). The forward saves per-channel mean and invstd = 1/sqrt(var + eps) for the backward.
//
// The kernels also carry the epilogue that follows batch norm in a residual network, so that BN + add + ReLU
// is one pass over the activations forward and two backward (issue 19 item 9):
//   y = act(weight (x - mean) invstd + bias [+ residual]),  act = ReLU or the identity.
// Their backward masks dy by the saved output (y > 0, the ReLU's derivative, 0 at 0), writes that masked
// gradient as the residual's gradient and differentiates the normalisation with it; no intermediate tensor
// is stored or read. Plain batch norm is the case without residual or ReLU.
//
// CPU reference kernels/cpu/batchnorm.cpp (float32 fast paths kernels/cpu/batchnorm_fast.cpp, batchnorm_last.cpp),
// CUDA kernels/cuda/batchnorm.cu; tested in tests/test_ops_norm.cpp, tests/test_ops_norm_act.cpp,
// tests/test_cpu_fast_path.cpp and their GPU twins in tests/gpu/.
#pragma once
#include "kernels/registry.h"
#include "kernels/tensor.h"

namespace sp {

struct BatchNormFwdArgs {
  Tensor y, save_mean, save_invstd;   // outputs: like x, [C], [C]
  Tensor x, weight, bias;             // weight, bias: optional [C]
  Tensor running_mean, running_var;   // [C]; optional in training (then updated in place), required in eval
  Tensor residual;                    // optional, like x: added before the activation
  bool relu = false;
  bool training = true;
  double momentum = 0.1, eps = 1e-5;
};

// Each gradient is optional (undefined: not wanted) and written out = gradient + beta * out (beta 0: out
// may hold anything). training selects the full batch-statistics backward; otherwise the statistics are
// constants (eval mode).
struct BatchNormBwdArgs {
  Tensor dx, dweight, dbias, dresidual;
  Tensor dy, x, save_mean, save_invstd, weight;  // weight optional
  Tensor y;                                      // the forward's output; required with relu
  bool relu = false;
  bool training = true;
  double beta_x = 0, beta_w = 0, beta_b = 0, beta_r = 0;
};

using BatchNormFwdFn = void(Stream&, const BatchNormFwdArgs&);
using BatchNormBwdFn = void(Stream&, const BatchNormBwdArgs&);
extern Kernel<BatchNormFwdFn> k_batch_norm_fwd;
extern Kernel<BatchNormBwdFn> k_batch_norm_bwd;

// Validating wrappers: shapes ([C] for every per-channel tensor, x's shape for y, residual and their
// gradients), dtypes, devices, contiguity, and that no output overlaps an input it is computed from;
// training needs more than one value per channel, eval needs running statistics.
void batch_norm_forward(Stream& s, const BatchNormFwdArgs& a);
void batch_norm_backward(Stream& s, const BatchNormBwdArgs& a);

}  // namespace sp
