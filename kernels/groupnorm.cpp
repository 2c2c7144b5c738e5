// Kernel objects and validating wrappers for group normalisation (see groupnorm.h).
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

void group_norm_forward(Stream& s, const Tensor& y, const Tensor& save_mean, const Tensor& save_invstd, const Tensor& x,
                        const Tensor& weight, const Tensor& bias, int64_t groups, double eps) {
  const char* op = "group_norm";
  check_float_input(op, x, s);
  NormDims d = check_groups(op, x, groups);
  check_norm_forward_args(op, y, save_mean, save_invstd, x, weight, bias, {d.N, groups});
  SP_CHECK(eps >= 0, op, ": eps ", eps, " must be >= 0");
  k_group_norm_fwd(x.device(), s, y, save_mean, save_invstd, x, weight, bias, groups, eps);
}

void group_norm_backward(Stream& s, const Tensor& dx, const Tensor& dweight, const Tensor& dbias, const Tensor& dy,
                         const Tensor& x, const Tensor& save_mean, const Tensor& save_invstd, const Tensor& weight,
                         int64_t groups, double beta_x, double beta_w, double beta_b) {
  const char* op = "group_norm backward";
  check_float_input(op, x, s);
  NormDims d = check_groups(op, x, groups);
  check_norm_backward_args(op, dx, dweight, dbias, dy, x, save_mean, save_invstd, weight, {d.N, groups});
  if (!dx.defined() && !dweight.defined() && !dbias.defined()) return;
  k_group_norm_bwd(x.device(), s, dx, dweight, dbias, dy, x, save_mean, save_invstd, weight, groups, beta_x, beta_w,
                   beta_b);
}

}  // namespace sp
