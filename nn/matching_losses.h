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
//    |running_mean - mean|_2 (L2 norms, not squared; batch mean and biased variance over N, H, W).
// Tested against PyTorch in tests/test_second_order_golden.cpp and on hand-made inputs in
// tests/test_hvp.cpp.
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

// The batch-norm layers recorded in `trace` during a forward of `teacher` with running statistics `buffers`.
// Throws when the trace holds no batch-norm layer.
Var bn_statistics_loss(Tape& t, const LayerTrace& trace, const Model& teacher, const Tensor& buffers);

}  // namespace sp
