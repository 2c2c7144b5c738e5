// Log-softmax, softmax and the training losses as tape ops, with PyTorch's semantics (F.log_softmax(dim=-1),
// F.softmax(dim=-1), F.cross_entropy with mean reduction and label_smoothing, F.kl_div(log_softmax(s/T),
// softmax(t/T), 'batchmean') * T^2, F.mse_loss). Losses return 0-dim tensors. Every op has a
// differentiable backward (second order), its first-order formula written with tape ops; hard labels
// enter it as a constant smoothed one-hot. Kernels: kernels/softmax.h, kernels/loss.h. Tested in tests/test_ops_loss.cpp (values
// against naive f64 formulas, first- and second-order gradient checks for every input, +-1000 logits, bad
// input) and tests/gpu/test_ops_loss_gpu.cpp.
#pragma once
#include "nn/tape.h"

namespace sp::ag {

// Along the last axis.
Var log_softmax(Tape& t, Var x);
// Along the last axis (attention weights); rows of all -inf give NaN, as in PyTorch.
Var softmax(Tape& t, Var x);

// logits [N, C]; labels int64 [N] in [0, C) (a constant, not a tape value). Mean over N of
// (1 - eps) (-log p_y) + eps mean_j(-log p_j).
Var cross_entropy(Tape& t, Var logits, const Tensor& labels, double label_smoothing = 0.0);
// Soft targets [N, C] (probabilities; a tape value, so learned labels get gradients): mean over N of
// -sum_j t'_j log p_j with t' = (1 - eps) t + eps / C.
Var cross_entropy(Tape& t, Var logits, Var targets, double label_smoothing = 0.0);

// Knowledge distillation: T^2 * mean over N of KL(softmax(teacher / T) || softmax(student / T)); gradients
// flow to both logits.
Var kl_div(Tape& t, Var student, Var teacher, double temperature = 1.0);

// mean((input - target)^2); gradients for both.
Var mse_loss(Tape& t, Var input, Var target);

}  // namespace sp::ag
