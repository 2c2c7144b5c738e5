// The losses dataset and data-free distillation differentiate, as tape expressions (so their gradients, of
// any order, come from the tape):
//  - gradient_match_distance: DC's 'ours' distance between the parameter gradients of a real and a
//    synthetic batch (shared/reference/round2-methods.md §1): for each parameter tensor with more than one
//    dimension, rows = the tensor as [shape[0], -1], sum over rows of 1 - <a, b> / (|a| |b| + 1e-6); 1-D
//    tensors (biases, norm scales) contribute 0. The real gradient is a constant; the synthetic one a Var
//    (from Tape::grad_graph), so d distance / d images is the mixed second derivative.
//  - distribution_match_loss: DM's |mean embedding(real) - mean embedding(syn)|^2 (§3).
//  - bn_statistics_loss: Fast DFKD's / DeepInversion's feature-statistics loss (§6.2) over the batch-norm
//    layers of a frozen teacher traced during one forward: sum over layers of |running_var - var|_2 +
//    |running_mean - mean|_2 (L2 norms, not squared; batch mean and biased variance over N, H, W). With
//    momentum statistics (Fast's bn_mmt, §6.2) each layer's batch statistics are first blended with them:
//    (1 - beta) * batch + beta * previous; update_bn_momentum keeps that average across calls.
// Tested against PyTorch in tests/test_second_order_golden.cpp, on hand-made inputs in tests/test_hvp.cpp,
// and (the momentum blend) against a hand computation and central differences in tests/test_dfkd_synthesis.cpp.
#pragma once
#include "nn/layer_trace.h"
#include "nn/model.h"
#include "nn/params.h"
#include "nn/tape.h"

namespace sp {

// g_syn: a [P] Var laid out by `params`; g_real: the matching [P] tensor. Returns a 0-dim Var.
Var gradient_match_distance(Tape& t, const ParamLayout& params, Var g_syn, const Tensor& g_real);

// Embeddings [N, F] (real: often a constant leaf) -> 0-dim Var.
Var distribution_match_loss(Tape& t, Var emb_real, Var emb_syn);

// Per batch-norm layer (in trace order) its input's channel mean and biased variance, [C] each, detached.
struct BnStatistics {
  std::vector<Tensor> mean, var;
  bool empty() const { return mean.empty(); }
};

// The batch-norm layers recorded in `trace` during a forward of `teacher` with running statistics `buffers`.
// With a non-empty `previous`, each layer's batch statistics are blended as (1 - momentum) * batch + momentum *
// previous before the distance. `batch` (optional) receives this forward's unblended statistics. Throws when the
// trace holds no batch-norm layer, or when `previous` does not match the traced layers.
Var bn_statistics_loss(Tape& t, const LayerTrace& trace, const Model& teacher, const Tensor& buffers,
                       const BnStatistics* previous = nullptr, double momentum = 0, BnStatistics* batch = nullptr);

// Fast's update_mmt: avg <- batch on the first call (avg empty), else momentum * avg + (1 - momentum) * batch.
void update_bn_momentum(Stream& s, BnStatistics& avg, const BnStatistics& batch, double momentum);

}  // namespace sp
