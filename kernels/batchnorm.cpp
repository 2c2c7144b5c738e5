// Kernel objects and validating wrappers for batch normalisation and its fused epilogue (see batchnorm.h).
#include "kernels/batchnorm.h"

#include "kernels/norm_checks.h"
#include "kernels/norm_math.h"

namespace sp {

constinit Kernel<BatchNormFwdFn> k_batch_norm_fwd("batch_norm_fwd");
constinit Kernel<BatchNormBwdFn> k_batch_norm_bwd("batch_norm_bwd");

void batch_norm_forward(Stream& s, const BatchNormFwdArgs& a) {
  const char* op = "batch_norm";
  check_float_input(op, a.x, s);
  NormDims d = norm_dims(op, a.x);
  Shape ch{d.C};
  check_norm_forward_args(op, a.y, a.save_mean, a.save_invstd, a.x, a.weight, a.bias, ch);
  check_arg_like(op, "running_mean", a.running_mean, a.x, ch, !a.training);
  check_arg_like(op, "running_var", a.running_var, a.x, ch, !a.training);
  check_arg_like(op, "residual", a.residual, a.x, a.x.shape(), false);
  SP_CHECK(a.running_mean.defined() == a.running_var.defined(), op,
           ": running_mean and running_var must both be given or both be absent");
  SP_CHECK(a.eps >= 0, op, ": eps ", a.eps, " must be >= 0");
  if (a.training)
    SP_CHECK(d.N * d.HW > 1, op, ": training needs more than one value per channel, got input ", a.x.str());
  k_batch_norm_fwd(a.x.device(), s, a);
}

void batch_norm_backward(Stream& s, const BatchNormBwdArgs& a) {
  const char* op = "batch_norm backward";
  check_float_input(op, a.x, s);
  NormDims d = norm_dims(op, a.x);
  check_norm_backward_args(op, a.dx, a.dweight, a.dbias, a.dy, a.x, a.save_mean, a.save_invstd, a.weight, {d.C});
  check_arg_like(op, "grad_residual", a.dresidual, a.x, a.x.shape(), false);
  check_arg_like(op, "output", a.y, a.x, a.x.shape(), a.relu);
  check_disjoint(op, "grad_input", a.dx, "grad_residual", a.dresidual);
  if (!a.dx.defined() && !a.dweight.defined() && !a.dbias.defined() && !a.dresidual.defined()) return;
  k_batch_norm_bwd(a.x.device(), s, a);
}

}  // namespace sp
