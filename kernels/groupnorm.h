// Group normalisation over [N, C, *] with PyTorch's semantics: the C channels form G groups of C/G
// consecutive channels; each (sample, group) is normalised with its own mean and biased variance (eps
// inside the square root), then the optional per-channel weight and bias apply. Instance norm is G = C.
// No running statistics. The forward saves mean and invstd per (n, g), shape [N, G], for the backward.
// Like batch norm (kernels/batchnorm.h) the kernels carry the epilogue that may follow, y = act(norm(x)
// [+ residual]) with act ReLU or the identity, and their backward masks dy by the saved output and writes
// the residual's gradient.
// CPU reference kernels/cpu/groupnorm.cpp (float32 fast path kernels/cpu/groupnorm_fast.cpp), CUDA
// kernels/cuda/groupnorm.cu; tested in tests/test_ops_norm.cpp, tests/test_ops_norm_act.cpp,
// tests/test_cpu_fast_path.cpp and tests/gpu/test_ops_norm_gpu.cpp, test_ops_norm_act_gpu.cpp.
#pragma once
#include "kernels/registry.h"
#include "kernels/tensor.h"

namespace sp {

struct GroupNormFwdArgs {
  Tensor y, save_mean, save_invstd;  // outputs: like x, [N, G], [N, G]
  Tensor x, weight, bias;            // weight, bias: optional [C]
  Tensor residual;                   // optional, like x: added before the activation
  bool relu = false;
  int64_t groups = 1;
  double eps = 1e-5;
};

// Each gradient is optional (undefined: not wanted) and written out = gradient + beta * out (beta 0: out
// may hold anything).
struct GroupNormBwdArgs {
  Tensor dx, dweight, dbias, dresidual;
  Tensor dy, x, save_mean, save_invstd, weight;  // weight optional
  Tensor y;                                      // the forward's output; required with relu
  bool relu = false;
  int64_t groups = 1;
  double beta_x = 0, beta_w = 0, beta_b = 0, beta_r = 0;
};

using GroupNormFwdFn = void(Stream&, const GroupNormFwdArgs&);
using GroupNormBwdFn = void(Stream&, const GroupNormBwdArgs&);
extern Kernel<GroupNormFwdFn> k_group_norm_fwd;
extern Kernel<GroupNormBwdFn> k_group_norm_bwd;

// Validating wrappers: C divisible by groups, [C] weight/bias, [N, G] statistics, x's shape for y, residual
// and their gradients, dtypes, devices, and input and residual gradients in separate memory.
void group_norm_forward(Stream& s, const GroupNormFwdArgs& a);
void group_norm_backward(Stream& s, const GroupNormBwdArgs& a);

}  // namespace sp
