// Kernel objects and validating wrappers for batch normalisation (see batchnorm.h).
#include "kernels/batchnorm.h"

#include "kernels/norm_checks.h"
#include "kernels/norm_math.h"

namespace sp {

constinit Kernel<BatchNormFwdFn> k_batch_norm_fwd("batch_norm_fwd");
constinit Kernel<BatchNormBwdFn> k_batch_norm_bwd("batch_norm_bwd");

void batch_norm_forward(Stream& s, const Tensor& y, const Tensor& save_mean, const Tensor& save_invstd, const Tensor& x,
                        const Tensor& weight, const Tensor& bias, const Tensor& running_mean, const Tensor& running_var,
                        bool training, double momentum, double eps) {
  const char* op = "batch_norm";
  check_float_input(op, x, s);
  NormDims d = norm_dims(op, x);
  Shape ch{d.C};
  check_norm_forward_args(op, y, save_mean, save_invstd, x, weight, bias, ch);
  check_arg_like(op, "running_mean", running_mean, x, ch, !training);
  check_arg_like(op, "running_var", running_var, x, ch, !training);
  SP_CHECK(running_mean.defined() == running_var.defined(), op,
           ": running_mean and running_var must both be given or both be absent");
  SP_CHECK(eps >= 0, op, ": eps ", eps, " must be >= 0");
  if (training) SP_CHECK(d.N * d.HW > 1, op, ": training needs more than one value per channel, got input ", x.str());
  k_batch_norm_fwd(x.device(), s, y, save_mean, save_invstd, x, weight, bias, running_mean, running_var, training,
                   momentum, eps);
}

void batch_norm_backward(Stream& s, const Tensor& dx, const Tensor& dweight, const Tensor& dbias, const Tensor& dy,
                         const Tensor& x, const Tensor& save_mean, const Tensor& save_invstd, const Tensor& weight,
                         bool training, double beta_x, double beta_w, double beta_b) {
  const char* op = "batch_norm backward";
  check_float_input(op, x, s);
  NormDims d = norm_dims(op, x);
  check_norm_backward_args(op, dx, dweight, dbias, dy, x, save_mean, save_invstd, weight, {d.C});
  if (!dx.defined() && !dweight.defined() && !dbias.defined()) return;
  k_batch_norm_bwd(x.device(), s, dx, dweight, dbias, dy, x, save_mean, save_invstd, weight, training, beta_x, beta_w,
                   beta_b);
}

}  // namespace sp
