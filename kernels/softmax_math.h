// Per-element formulas of log-softmax, softmax and the losses built on log-softmax (cross entropy with hard
// or soft targets and label smoothing, temperature-scaled KL distillation, MSE), shared by kernels/cpu/{softmax,
// loss}.cpp and their CUDA twins. Row statistics (log-sum-exp) come from stat::MaxSum. Tested through
// tests/test_ops_loss.cpp (values against naive f64 formulas, gradients by finite differences).
#pragma once
#include <limits>

#include "kernels/stat_math.h"

namespace sp::smx {

// d/dx of sum(dy * log_softmax(x)) given y = log_softmax(x) and the row's sum of dy.
template <class T>
SP_HD T log_softmax_grad(T dy, T y, T sum_dy) {
  return dy - stat::exp_(y) * sum_dy;
}

// softmax(x)_j = exp(x_j - m) / s for the row's maximum m and s = sum_k exp(x_k - m) (stat::MaxSum). Not
// exp(x_j - lse): lse = m + log s rounded to T loses the low bits of log s when |m| is large (f32 at
// m = 1000 has an ulp of 6e-5), while x_j - m is exact near the maximum.
template <class T>
SP_HD T softmax_value(T x, T m, T s) {
  return stat::exp_(x - m) / s;
}
// d/dx of sum(dy * softmax(x)) given y = softmax(x) and the row's dot = sum_k dy_k y_k.
template <class T>
SP_HD T softmax_grad(T dy, T y, T dot) {
  return y * (dy - dot);
}

// Hard-label row loss with label smoothing eps over C classes (PyTorch): (1 - eps) * (-log p_y) +
// eps * mean_j(-log p_j). nll = lse - x_y; nll_sum = sum_j (lse - x_j).
template <class T>
SP_HD T ce_hard_row_loss(T nll, T nll_sum, T eps, T num_classes) {
  return (T(1) - eps) * nll + eps / num_classes * nll_sum;
}
// Its gradient w.r.t. logit x_j times `scale` (upstream gradient / N).
template <class T>
SP_HD T ce_hard_grad(T x, T lse, bool is_label, T eps, T num_classes, T scale) {
  return scale * (stat::exp_(x - lse) - (is_label ? T(1) - eps : T(0)) - eps / num_classes);
}

// Soft targets are smoothed as PyTorch does: t' = (1 - eps) t + eps / C; row loss = -sum_j t'_j log p_j.
template <class T>
SP_HD T smooth_target(T t, T eps, T num_classes) {
  return (T(1) - eps) * t + eps / num_classes;
}
// d row loss / d x_j = p_j * sum_k t'_k - t'_j (targets need not sum to one: they may be learned).
template <class T>
SP_HD T ce_soft_grad_logit(T x, T lse, T t_smoothed, T target_sum, T scale) {
  return scale * (stat::exp_(x - lse) * target_sum - t_smoothed);
}
// d row loss / d t_j = -(1 - eps) log p_j.
template <class T>
SP_HD T ce_soft_grad_target(T x, T lse, T eps, T scale) {
  return scale * (T(1) - eps) * (lse - x);
}

// KL(q || p) with q = softmax(teacher / T), p = softmax(student / T): row value sum_j q_j (log q_j - log p_j);
// a q_j that underflows to 0 contributes 0 (PyTorch's xlogy convention).
template <class T>
SP_HD T kl_term(T log_q, T log_p) {
  T q = stat::exp_(log_q);
  return q == T(0) ? T(0) : q * (log_q - log_p);
}
// Gradients of T^2 * row value w.r.t. the raw logits, times `scale` = upstream * T / N:
// student: p - q; teacher: q (log q - log p - row_kl).
template <class T>
SP_HD T kl_grad_student(T log_q, T log_p, T scale) {
  return scale * (stat::exp_(log_p) - stat::exp_(log_q));
}
template <class T>
SP_HD T kl_grad_teacher(T log_q, T log_p, T row_kl, T scale) {
  T q = stat::exp_(log_q);
  return q == T(0) ? T(0) : scale * q * (log_q - log_p - row_kl);
}

template <class T>
SP_HD T quiet_nan() {
  return std::numeric_limits<T>::quiet_NaN();
}

}  // namespace sp::smx
