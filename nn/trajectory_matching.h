// The trajectory-matching meta-gradient of MTT and DATM (shared/reference/round2-methods.md §4.2, §5.2): from
// an expert's parameters theta_start, syn_steps SGD steps on minibatches of the synthetic set,
//   theta_{k+1} = theta_k - lr * grad_theta L_k(theta_k),   L_k = CE(f(aug_k(S[rows_k]); theta_k), y[rows_k]),
// with hard labels (MTT) or soft targets softmax(Y[rows_k]) of learnable logits Y (DATM); the loss is the
// normalised parameter distance |theta_N - theta_target|^2 / |theta_start - theta_target|^2, and its exact
// gradient w.r.t. the images S, the step size lr and the logits Y.
// Two modes give the same numbers:
//   unrolled  one tape holds the whole chain (every step's activations and recorded backward): memory grows
//             linearly with syn_steps (nn/unrolled_sgd.h);
//   adjoint   only the parameter snapshots theta_0..theta_{N-1} are kept. Going backwards from
//             lambda_N = dL/dtheta_N, step k's forward is recomputed from theta_k on a fresh tape and the
//             exact second-order products of v = lambda_{k+1} give
//               dL/dlr   -= <g_k, v>
//               dL/dS_k  -= lr * d/dS_k <g_k, v>   (through the replayed augmentation)
//               dL/dY_k  -= lr * d/dY_k <g_k, v>
//               lambda_k  = v - lr * H_k v,
//             so activation memory is one step's whatever syn_steps is (the snapshots cost syn_steps x P).
// The augmentation of step k must be a deterministic function of k (it is replayed). Tested in
// tests/test_trajectory_matching.cpp (modes agree in f64 to 1e-10, hard and soft labels, with
// augmentation; both against the PyTorch golden of tests/test_second_order_golden.cpp; a central
// difference of the loss along its gradient).
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "nn/model.h"
#include "nn/tape.h"

namespace sp {

enum class MetaGradMode { unrolled, adjoint };
const char* meta_grad_mode_name(MetaGradMode m);
MetaGradMode meta_grad_mode_from_name(const std::string& name);  // "unrolled" | "adjoint"

struct TrajectoryMatchArgs {
  const Model* model = nullptr;
  Tensor buffers;                  // the model's buffers (undefined for models without batch norm)
  Tensor theta_start, theta_target;  // [P], the dtype of the computation, on the stream's device
  Tensor images;                   // S: [N, C, H, W]
  Tensor labels;                   // hard labels i64 [N] (MTT), or
  Tensor label_logits;             // learnable logits Y [N, classes] (DATM; soft target softmax(Y))
  double lr = 0.01;                // the step size (MTT's syn_lr)
  std::vector<std::vector<int64_t>> batches;  // rows of S used by each unrolled step
  // aug(t, x, k): step k's augmentation of its batch (identity when empty); replayed in adjoint mode.
  std::function<Var(Tape&, Var, int64_t)> aug;
};

struct TrajectoryMatchResult {
  double loss = 0;           // normalised distance
  double start_distance = 0; // |theta_start - theta_target|^2
  Tensor grad_images;        // dL/dS, S's shape
  double grad_lr = 0;        // dL/dlr
  Tensor grad_label_logits;  // dL/dY (when label_logits are given)
  Tensor theta_final;        // theta_N
};

TrajectoryMatchResult trajectory_match(Stream& s, const TrajectoryMatchArgs& a, MetaGradMode mode);

// Rows of a [N, ...] Var as one batch (contiguous runs of `rows` become single narrows, so sorted rows of
// a full set cost one op), differentiable with gradients scattered back.
Var gather_rows(Tape& t, Var x, const std::vector<int64_t>& rows);

}  // namespace sp
