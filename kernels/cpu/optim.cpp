// CPU optimiser steps (see kernels/optim.h): a loop over the shared per-element update.
#include "kernels/dispatch.h"
#include "kernels/optim.h"

namespace sp {
namespace {

// Decay flag of element i: mask has the parameters' numel or one row broadcast over a stack.
struct MaskReader {
  const uint8_t* m = nullptr;
  int64_t n = 0;
  explicit MaskReader(const Tensor& mask) {
    if (mask.defined()) {
      m = mask.data<uint8_t>();
      n = mask.numel();
    }
  }
  bool operator()(int64_t i) const { return !m || m[i % n] != 0; }
};

void sgd_step_cpu(Stream&, const Tensor& param, const Tensor& momentum_buf, const Tensor& grad,
                  const Tensor& decay_mask, const Tensor& hyper, const SgdStepArgs& args) {
  MaskReader decay(decay_mask);
  const double* h = hyper.data<double>();
  SP_DISPATCH_FLOAT(param.dtype(), "sgd_step", {
    SgdScalars<scalar_t> a = sgd_scalars<scalar_t>(args, h[0], h[1]);
    scalar_t* p = param.data<scalar_t>();
    const scalar_t* g = grad.data<scalar_t>();
    scalar_t* buf = args.momentum != 0 ? momentum_buf.data<scalar_t>() : nullptr;
    int64_t n = param.numel();
    for (int64_t i = 0; i < n; ++i) sgd_update(p[i], g[i], buf ? buf + i : nullptr, a, decay(i));
  });
}

void adam_step_cpu(Stream&, const Tensor& param, const Tensor& exp_avg, const Tensor& exp_avg_sq, const Tensor& grad,
                   const Tensor& decay_mask, const Tensor& hyper, const AdamStepArgs& args) {
  MaskReader decay(decay_mask);
  const double* h = hyper.data<double>();
  SP_DISPATCH_FLOAT(param.dtype(), "adam_step", {
    AdamScalars<scalar_t> a = adam_scalars<scalar_t>(args, h[0], h[1]);
    scalar_t* p = param.data<scalar_t>();
    scalar_t* m = exp_avg.data<scalar_t>();
    scalar_t* v = exp_avg_sq.data<scalar_t>();
    const scalar_t* g = grad.data<scalar_t>();
    int64_t n = param.numel();
    for (int64_t i = 0; i < n; ++i) adam_update(p[i], g[i], m[i], v[i], a, decay(i));
  });
}

}  // namespace
SP_REGISTER_KERNEL(k_sgd_step, CPU, sgd_step_cpu);
SP_REGISTER_KERNEL(k_adam_step, CPU, adam_step_cpu);
}  // namespace sp
