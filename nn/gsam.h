// One GSAM step (Zhuang et al., "Surrogate Gap Guided Sharpness-Aware Minimization"), as DATM's
// buffer_FTD.py uses it to train flat-trajectory experts: with a constant rho and the adaptive perturbation,
//   g = dL(w); e = rho / (||w * g|| + 1e-12) * g * w^2   (non-adaptive: rho / (||g|| + 1e-12) * g)
//   g_p = dL(w + e) on the same batch
//   cos = <g, g_p> / (||g|| ||g_p|| + 1e-12); g_perp = g - cos ||g|| g_p / (||g_p|| + 1e-12)
//   w is restored, then the optimiser steps with g_p - alpha * g_perp.
// Works on flat parameter buffers with device kernels (CPU and CUDA); only the three inner products are read
// back to the host. Tested in tests/test_gsam.cpp against a scalar reference on a quadratic loss.
#pragma once
#include <functional>

#include "kernels/tensor.h"
#include "nn/optim.h"

namespace sp {

struct GsamConfig {
  double rho = 0.01;
  double alpha = 0.3;
  bool adaptive = true;
};

// grad_at(theta, loss_out) returns the gradient [P] (w's shape, dtype and device) of the batch loss at theta
// (theta is w itself, temporarily perturbed) and writes that loss to *loss_out (never null). It is called
// twice: at w, then at w + e. The returned tensor may be a buffer the callback reuses between calls. w is
// restored bit-exactly from a copy before opt.step (not by subtracting e, which can round). Returns the loss
// at the unperturbed w. Throws sp::Error (w restored) when a gradient norm is not finite.
double gsam_step(Stream& s, Optimizer& opt, const Tensor& w, double lr, const GsamConfig& c,
                 const std::function<Tensor(const Tensor& w, double* loss)>& grad_at);

}  // namespace sp
