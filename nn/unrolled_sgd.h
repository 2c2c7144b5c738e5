// Unrolled SGD as a differentiable function, the inner loop of trajectory matching (MTT/DATM,
// shared/reference/round2-methods.md §4.2): theta_{k+1} = theta_k - lr * grad_theta L(f(theta_k, x_k), y_k)
// with every gradient recorded (Tape::grad_graph), so the returned theta_K is a Var whose gradient w.r.t. the
// images x_k, the soft labels and the learning rate lr (a Var, MTT's learnable syn_lr) is exact.
// Memory: the tape keeps each step's forward activations and its recorded backward (docs/benchmarks.md,
// "Second-order autograd"). Tested against PyTorch in tests/test_second_order_golden.cpp (4 steps) and in
// tests/test_hvp.cpp (one step against its closed form).
#pragma once
#include <span>

#include "nn/model.h"
#include "nn/tape.h"

namespace sp {

// One unrolled step's minibatch: images and either hard labels (int64 [N]) or soft targets (a Var [N, C] of
// probabilities; DATM's learned labels pass softmax of their logits).
struct UnrolledBatch {
  Var x;
  Tensor labels;
  Var soft_targets;
};

// theta_K after one step per batch, from theta0 (a contiguous [P] Var that requires grad) and a scalar or
// [1] lr Var. The model
// runs in training mode with `buffers` (models without batch norm take an undefined tensor).
Var unrolled_sgd(Tape& t, const Model& model, Var theta0, Var lr, std::span<const UnrolledBatch> batches,
                 const Tensor& buffers = Tensor());

}  // namespace sp
