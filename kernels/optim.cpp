// Kernel objects and validating wrappers for the optimiser steps (see optim.h).
#include "kernels/optim.h"

#include <cmath>

namespace sp {

constinit Kernel<SgdStepFn> k_sgd_step("sgd_step");
constinit Kernel<AdamStepFn> k_adam_step("adam_step");

namespace {

void check_buffer(const char* op, const char* what, const Tensor& param, const Tensor& t) {
  SP_CHECK(t.defined(), op, ": ", what, " is undefined");
  SP_CHECK(t.shape() == param.shape() && t.dtype() == param.dtype() && t.device() == param.device() &&
               t.is_contiguous(),
           op, ": ", what, " ", t.str(), " must be contiguous and match the parameters ", param.str());
}

void check_common(const char* op, Stream& s, const Tensor& param, const Tensor& grad, const Tensor& mask,
                  const Tensor& hyper, double weight_decay) {
  SP_CHECK(param.defined(), op, ": parameters are undefined");
  SP_CHECK(param.dtype() == DType::f32 || param.dtype() == DType::f64, op, ": parameters ", param.str(),
           " must be f32 or f64");
  SP_CHECK(param.is_contiguous(), op, ": parameters ", param.str(), " must be contiguous");
  SP_CHECK(param.device() == s.device(), op, ": parameters ", param.str(), " are not on the stream's device ",
           s.device());
  check_buffer(op, "gradient", param, grad);
  if (mask.defined()) {
    SP_CHECK(mask.dtype() == DType::u8 && mask.is_contiguous() && mask.device() == param.device(), op,
             ": decay mask ", mask.str(), " must be contiguous u8 on ", param.device());
    int64_t row = param.dim() ? param.size(-1) : 1;
    SP_CHECK(mask.numel() == param.numel() || mask.numel() == row, op, ": decay mask ", mask.str(),
             " must have the parameters' numel or last dimension (parameters ", param.str(), ")");
  }
  SP_CHECK(hyper.defined() && hyper.dtype() == DType::f64 && hyper.numel() == 2 && hyper.is_contiguous() &&
               hyper.device() == param.device(),
           op, ": hyper ", hyper.defined() ? hyper.str() : std::string("(undefined)"),
           " must be a contiguous f64 [2] {lr, step} on ", param.device());
  SP_CHECK(std::isfinite(weight_decay) && weight_decay >= 0, op, ": weight decay ", weight_decay,
           " must be finite and >= 0");
}

}  // namespace

void sgd_step(Stream& s, const Tensor& param, const Tensor& momentum_buf, const Tensor& grad,
              const Tensor& decay_mask, const Tensor& hyper, const SgdStepArgs& a) {
  check_common("sgd_step", s, param, grad, decay_mask, hyper, a.weight_decay);
  SP_CHECK(std::isfinite(a.momentum) && a.momentum >= 0, "sgd_step: momentum ", a.momentum, " must be >= 0");
  SP_CHECK(std::isfinite(a.dampening), "sgd_step: dampening ", a.dampening, " must be finite");
  SP_CHECK(!a.nesterov || (a.momentum > 0 && a.dampening == 0),
           "sgd_step: Nesterov momentum needs momentum > 0 and zero dampening (momentum ", a.momentum,
           ", dampening ", a.dampening, ")");
  if (a.momentum != 0) check_buffer("sgd_step", "momentum buffer", param, momentum_buf);
  if (param.numel() == 0) return;
  k_sgd_step(param.device(), s, param, momentum_buf, grad, decay_mask, hyper, a);
}

void adam_step(Stream& s, const Tensor& param, const Tensor& exp_avg, const Tensor& exp_avg_sq, const Tensor& grad,
               const Tensor& decay_mask, const Tensor& hyper, const AdamStepArgs& a) {
  check_common("adam_step", s, param, grad, decay_mask, hyper, a.weight_decay);
  check_buffer("adam_step", "exp_avg", param, exp_avg);
  check_buffer("adam_step", "exp_avg_sq", param, exp_avg_sq);
  SP_CHECK(a.beta1 >= 0 && a.beta1 < 1 && a.beta2 >= 0 && a.beta2 < 1, "adam_step: betas (", a.beta1, ", ",
           a.beta2, ") must lie in [0, 1)");
  SP_CHECK(std::isfinite(a.eps) && a.eps >= 0, "adam_step: eps ", a.eps, " must be finite and >= 0");
  if (param.numel() == 0) return;
  k_adam_step(param.device(), s, param, exp_avg, exp_avg_sq, grad, decay_mask, hyper, a);
}

}  // namespace sp
