// Fused optimiser steps over flat buffers: one kernel per step updates the parameters and the optimiser
// state in place (per-element math in kernels/optim_math.h). The learning rate and bias corrections are
// host scalars passed as kernel arguments, so a step never synchronises. Buffers are contiguous f32/f64 of
// one shape ([P] or a stack [n_models, P]); the optional u8 decay mask has the parameters' numel or their
// last dimension (one row broadcast over a stack). Tested in tests/test_optim.cpp and
// tests/gpu/test_optim_gpu.cpp.
#pragma once
#include "kernels/optim_math.h"
#include "kernels/registry.h"
#include "kernels/tensor.h"

namespace sp {

// momentum_buf is undefined when args.momentum == 0; decay_mask undefined means decay applies everywhere.
using SgdStepFn = void(Stream&, const Tensor& param, const Tensor& momentum_buf, const Tensor& grad,
                       const Tensor& decay_mask, const SgdStepArgs& args);
using AdamStepFn = void(Stream&, const Tensor& param, const Tensor& exp_avg, const Tensor& exp_avg_sq,
                        const Tensor& grad, const Tensor& decay_mask, const AdamStepArgs& args);
extern Kernel<SgdStepFn> k_sgd_step;
extern Kernel<AdamStepFn> k_adam_step;

// Validating wrappers: shapes, dtypes, devices, contiguity and hyper-parameter ranges.
void sgd_step(Stream& s, const Tensor& param, const Tensor& momentum_buf, const Tensor& grad,
              const Tensor& decay_mask, const SgdStepArgs& args);
void adam_step(Stream& s, const Tensor& param, const Tensor& exp_avg, const Tensor& exp_avg_sq, const Tensor& grad,
               const Tensor& decay_mask, const AdamStepArgs& args);

}  // namespace sp
