// Per-element optimiser updates (SGD with momentum/Nesterov/weight decay, Adam, AdamW), written once as SP_HD
// functions that the CPU reference (kernels/cpu/optim.cpp) and the fused CUDA kernel (kernels/cuda/optim.cu)
// both call, so the CPU tests (tests/test_optim.cpp) check the arithmetic the GPU runs. The formulas follow
// PyTorch's single-tensor torch.optim.SGD / Adam / AdamW step.
#pragma once
#include <cmath>
#include <cstdint>

#include "kernels/hd.h"

namespace sp {

// Host-side description of one step; the kernels convert it to element-type scalars.
struct SgdStepArgs {
  double lr = 0;
  double momentum = 0;
  double dampening = 0;
  double weight_decay = 0;
  bool nesterov = false;
  bool first = true;  // first step: the momentum buffer is set to the gradient (PyTorch's buf = clone(g))
};

struct AdamStepArgs {
  double lr = 0;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0;
  bool decoupled = false;  // AdamW: p <- p (1 - lr wd) instead of g <- g + wd p
  int64_t step = 1;        // the step being taken, counted from 1 (bias correction)
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

template <class T>
SgdScalars<T> sgd_scalars(const SgdStepArgs& a) {
  return {T(a.lr), T(a.momentum), T(a.dampening), T(a.weight_decay), a.nesterov, a.first};
}

// Bias corrections are computed in double on the host from the step count, as PyTorch does with Python floats.
template <class T>
AdamScalars<T> adam_scalars(const AdamStepArgs& a) {
  double bc1 = 1.0 - std::pow(a.beta1, double(a.step));
  double bc2 = 1.0 - std::pow(a.beta2, double(a.step));
  return {T(a.lr), T(a.beta1), T(a.beta2), T(a.eps), T(a.weight_decay), T(a.lr / bc1), T(std::sqrt(bc2)),
          a.decoupled};
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
