// Per-element optimiser updates (SGD with momentum/Nesterov/weight decay, Adam, AdamW), written once as SP_HD
// functions that the CPU reference (kernels/cpu/optim.cpp) and the fused CUDA kernel (kernels/cuda/optim.cu)
// both call, so the CPU tests (tests/test_optim.cpp) check the arithmetic the GPU runs. The formulas follow
// PyTorch's single-tensor torch.optim.SGD / Adam / AdamW step.
#pragma once
#include <math.h>

#include <cmath>
#include <cstdint>

#include "kernels/hd.h"

namespace sp {

// The fixed hyper-parameters of a step. The learning rate and the step being taken (counted from 1) are not
// here: they live in a device tensor the kernels read (kernels/optim.h), so a captured CUDA graph replays
// every step with the current values.
struct SgdStepArgs {
  double momentum = 0;
  double dampening = 0;
  double weight_decay = 0;
  bool nesterov = false;
};

struct AdamStepArgs {
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0;
  bool decoupled = false;  // AdamW: p <- p (1 - lr wd) instead of g <- g + wd p
};

template <class T>
struct SgdScalars {
  T lr, momentum, dampening, weight_decay;
  bool nesterov, first;
};

template <class T>
struct AdamScalars {
  T lr, beta1, beta2, eps, weight_decay;
  T step_size;  // lr / (1 - beta1^step)
  T bc2_sqrt;   // sqrt(1 - beta2^step)
  bool decoupled;
};

// lr and step (counted from 1) come from the device scalars; the first step sets the momentum buffer to the
// gradient (PyTorch's buf = clone(g)).
template <class T>
SP_HD SgdScalars<T> sgd_scalars(const SgdStepArgs& a, double lr, double step) {
  return {T(lr), T(a.momentum), T(a.dampening), T(a.weight_decay), a.nesterov, step == 1.0};
}

// Bias corrections are computed in double from the step count, as PyTorch does with Python floats (on the
// host, pow and sqrt are the C library's, as std::pow and std::sqrt are).
template <class T>
SP_HD AdamScalars<T> adam_scalars(const AdamStepArgs& a, double lr, double step) {
  double bc1 = 1.0 - ::pow(a.beta1, step);
  double bc2 = 1.0 - ::pow(a.beta2, step);
  return {T(lr), T(a.beta1), T(a.beta2), T(a.eps), T(a.weight_decay), T(lr / bc1), T(::sqrt(bc2)), a.decoupled};
}

SP_HD float optim_sqrt(float x) { return sqrtf(x); }
SP_HD double optim_sqrt(double x) { return sqrt(x); }

// torch.lerp: a + w (b - a), evaluated from the nearer end for accuracy.
template <class T>
SP_HD T optim_lerp(T a, T b, T w) {
  return w < T(0.5) ? a + w * (b - a) : b - (b - a) * (T(1) - w);
}

// One parameter p with gradient g; buf is read/written only when momentum != 0 (it may be null otherwise).
// `decay` is the layout's weight-decay flag for this element.
template <class T>
SP_HD void sgd_update(T& p, T g, T* buf, const SgdScalars<T>& a, bool decay) {
  if (decay && a.weight_decay != T(0)) g = g + a.weight_decay * p;
  if (a.momentum != T(0)) {
    T b = a.first ? g : a.momentum * *buf + (T(1) - a.dampening) * g;
    *buf = b;
    g = a.nesterov ? g + a.momentum * b : b;
  }
  p = p - a.lr * g;
}

// m, v: first and second moment estimates (PyTorch's exp_avg, exp_avg_sq).
template <class T>
SP_HD void adam_update(T& p, T g, T& m, T& v, const AdamScalars<T>& a, bool decay) {
  if (decay && a.weight_decay != T(0)) {
    if (a.decoupled)
      p = p * (T(1) - a.lr * a.weight_decay);
    else
      g = g + a.weight_decay * p;
  }
  m = optim_lerp(m, g, T(1) - a.beta1);
  v = a.beta2 * v + (T(1) - a.beta2) * g * g;
  T denom = optim_sqrt(v) / a.bc2_sqrt + a.eps;
  p = p - a.step_size * (m / denom);
}

}  // namespace sp
