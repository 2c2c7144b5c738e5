// Fused optimiser steps over flat buffers: one kernel per step updates the parameters and the optimiser
// state in place (per-element math in kernels/optim_math.h). The learning rate and the step count are read
// from `hyper`, an f64 [2] tensor {lr, step counted from 1} on the parameters' device that the host fills
// before the step without synchronising (nn/optim.h), so a captured CUDA graph of the step replays with
// each step's values; the bias corrections are computed from it once per thread block. Buffers are contiguous f32/f64 of
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
                       const Tensor& decay_mask, const Tensor& hyper, const SgdStepArgs& args);
using AdamStepFn = void(Stream&, const Tensor& param, const Tensor& exp_avg, const Tensor& exp_avg_sq,
                        const Tensor& grad, const Tensor& decay_mask, const Tensor& hyper, const AdamStepArgs& args);
extern Kernel<SgdStepFn> k_sgd_step;
extern Kernel<AdamStepFn> k_adam_step;

// Validating wrappers: shapes, dtypes, devices, contiguity and hyper-parameter ranges (the values in `hyper`
// are the host's to check before it fills the tensor: Optimizer::step).
void sgd_step(Stream& s, const Tensor& param, const Tensor& momentum_buf, const Tensor& grad,
              const Tensor& decay_mask, const Tensor& hyper, const SgdStepArgs& args);
void adam_step(Stream& s, const Tensor& param, const Tensor& exp_avg, const Tensor& exp_avg_sq, const Tensor& grad,
               const Tensor& decay_mask, const Tensor& hyper, const AdamStepArgs& args);

}  // namespace sp
