// Argument checks shared by the batch and group norm wrappers (kernels/{batchnorm,groupnorm}.cpp): the two
// families take the same tensors and differ only in the shape of the saved statistics ([C] for batch norm,
// [N, groups] for group norm). Exercised by the bad-input test of tests/test_ops_norm.cpp.
#pragma once
#include "kernels/arg_check.h"

namespace sp {

// Forward: output like x, saved statistics of shape `stats`, optional per-channel weight and bias.
inline void check_norm_forward_args(const char* op, const Tensor& y, const Tensor& save_mean,
                                    const Tensor& save_invstd, const Tensor& x, const Tensor& weight,
                                    const Tensor& bias, const Shape& stats) {
  const Shape ch{x.size(1)};
  check_arg_like(op, "output", y, x, x.shape(), true);
  check_arg_like(op, "save_mean", save_mean, x, stats, true);
  check_arg_like(op, "save_invstd", save_invstd, x, stats, true);
  check_arg_like(op, "weight", weight, x, ch, false);
  check_arg_like(op, "bias", bias, x, ch, false);
}

// Backward: output gradient like x, optional gradient buffers, the forward's saved statistics (`stats`)
// and its optional weight.
inline void check_norm_backward_args(const char* op, const Tensor& dx, const Tensor& dweight, const Tensor& dbias,
                                     const Tensor& dy, const Tensor& x, const Tensor& save_mean,
                                     const Tensor& save_invstd, const Tensor& weight, const Shape& stats) {
  const Shape ch{x.size(1)};
  check_arg_like(op, "grad_output", dy, x, x.shape(), true);
  check_arg_like(op, "grad_input", dx, x, x.shape(), false);
  check_arg_like(op, "grad_weight", dweight, x, ch, false);
  check_arg_like(op, "grad_bias", dbias, x, ch, false);
  check_arg_like(op, "save_mean", save_mean, x, stats, true);
  check_arg_like(op, "save_invstd", save_invstd, x, stats, true);
  check_arg_like(op, "weight", weight, x, ch, false);
}

}  // namespace sp
