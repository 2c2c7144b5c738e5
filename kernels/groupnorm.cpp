// Kernel objects and validating wrappers for group normalisation and its fused epilogue (see groupnorm.h).
#include "kernels/groupnorm.h"

#include "kernels/norm_checks.h"
#include "kernels/norm_math.h"

namespace sp {

constinit Kernel<GroupNormFwdFn> k_group_norm_fwd("group_norm_fwd");
constinit Kernel<GroupNormBwdFn> k_group_norm_bwd("group_norm_bwd");

namespace {

NormDims check_groups(const char* op, const Tensor& x, int64_t groups) {
  NormDims d = norm_dims(op, x);
  SP_CHECK(groups >= 1 && d.C % groups == 0, op, ": ", d.C, " channels of input ", x.str(), " are not divisible into ",
           groups, " groups");
  return d;
}

}  // namespace

void group_norm_forward(Stream& s, const GroupNormFwdArgs& a) {
  const char* op = "group_norm";
  check_float_input(op, a.x, s);
  NormDims d = check_groups(op, a.x, a.groups);
  check_norm_forward_args(op, a.y, a.save_mean, a.save_invstd, a.x, a.weight, a.bias, {d.N, a.groups});
  check_arg_like(op, "residual", a.residual, a.x, a.x.shape(), false);
  SP_CHECK(a.eps >= 0, op, ": eps ", a.eps, " must be >= 0");
  k_group_norm_fwd(a.x.device(), s, a);
}

void group_norm_backward(Stream& s, const GroupNormBwdArgs& a) {
  const char* op = "group_norm backward";
  check_float_input(op, a.x, s);
  NormDims d = check_groups(op, a.x, a.groups);
  check_norm_backward_args(op, a.dx, a.dweight, a.dbias, a.dy, a.x, a.save_mean, a.save_invstd, a.weight,
                           {d.N, a.groups});
  check_arg_like(op, "grad_residual", a.dresidual, a.x, a.x.shape(), false);
  check_arg_like(op, "output", a.y, a.x, a.x.shape(), a.relu);
  check_disjoint(op, "grad_input", a.dx, "grad_residual", a.dresidual);
  if (!a.dx.defined() && !a.dweight.defined() && !a.dbias.defined() && !a.dresidual.defined()) return;
  k_group_norm_bwd(a.x.device(), s, a);
}

}  // namespace sp
