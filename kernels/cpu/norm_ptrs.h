// The float pointers of a normalisation kernel's tensors (nullptr for an undefined optional one), unpacked
// once for the float32 fast paths of batch norm (kernels/cpu/batchnorm_fast.cpp, batchnorm_last.cpp) and
// group norm (groupnorm_fast.cpp), which copy them into named locals (not structured bindings: the lambdas
// capture them, which clang before 16 refuses for bindings, and the fuzz build uses Debian's clang 14). Tested through
// tests/test_cpu_fast_path.cpp.
#pragma once
#include "kernels/norm_math.h"

namespace sp::cpu {

// Backward: input, output gradient, saved statistics, weight; the input, weight and bias gradients.
struct NormBwdPtrs {
  const float *x, *dy, *mean, *invstd, *w;
  float *dx, *dw, *db;
};
inline NormBwdPtrs norm_bwd_ptrs(const Tensor& dx, const Tensor& dweight, const Tensor& dbias, const Tensor& dy,
                                 const Tensor& x, const Tensor& save_mean, const Tensor& save_invstd,
                                 const Tensor& weight) {
  return {x.data<float>(),          dy.data<float>(),          save_mean.data<float>(),
          save_invstd.data<float>(), data_or_null<float>(weight), data_or_null<float>(dx),
          data_or_null<float>(dweight), data_or_null<float>(dbias)};
}

// Forward: input, weight, bias; output and saved statistics; batch norm's running statistics (nullptr for
// group norm, which has none).
struct NormFwdPtrs {
  const float *x, *w, *b;
  float *y, *mean, *invstd, *rm, *rv;
};
inline NormFwdPtrs norm_fwd_ptrs(const Tensor& y, const Tensor& save_mean, const Tensor& save_invstd, const Tensor& x,
                                 const Tensor& weight, const Tensor& bias, const Tensor& running_mean = Tensor(),
                                 const Tensor& running_var = Tensor()) {
  return {x.data<float>(),          data_or_null<float>(weight),       data_or_null<float>(bias),
          y.data<float>(),          save_mean.data<float>(),           save_invstd.data<float>(),
          data_or_null<float>(running_mean), data_or_null<float>(running_var)};
}

}  // namespace sp::cpu
