// Per-example gradients of one physical batch without a per-sample loop (the "hooks" method of Opacus, on
// our tape): one forward with a LayerTrace, one backward that asks only for the gradients of the traced
// layers' outputs (theta is not differentiated, so no batch weight gradients are computed), then per layer
//   conv weight:   dY_n [O, OH*OW] x unfold(X_n)^T [OH*OW, C*kh*kw]   strided-batched GEMM over samples
//   linear weight: dY_n^T [out, 1] x X_n [1, in]                        batched outer products
//   biases, group-norm affine: per-example sums of dY and dY * xhat (xhat recomputed from the layer input)
// With K augmented copies per example (x laid out copy-major: sample k * B + e) the gradient of example e is
// the mean over its copies (the loss is seeded so each sample carries 1/K, and the K GEMMs accumulate), as
// augmentation multiplicity requires. The blocks [B, n_l] stay separate, one per parameter tensor: the
// squared norms are summed over blocks and the clipped sum is one GEMV per block into the flat accumulator.
// Batch-norm models are refused (a per-sample gradient does not exist there).
// Tested in tests/test_dpsgd_per_sample.cpp (equals one-sample batches in f64) and
// tests/gpu/test_dpsgd_gpu.cpp (CUDA vs CPU).
#pragma once
#include <vector>

#include "nn/model.h"

namespace sp::dpsgd {

// Throws sp::Error naming the model when it has batch norm.
void check_dp_model(const Model& model);

class PerSampleGrads {
 public:
  explicit PerSampleGrads(const Model& model);

  // x [K*B, C, H, W] (copy-major), labels i64 [K*B]; theta [P]; buffers as the model wants (none for GN
  // models). Computes g_e = (1/K) sum_k grad CE(x[k*B+e]) for every example e and its squared norm.
  void compute(Stream& s, const Tensor& theta, const Tensor& buffers, const Tensor& x, const Tensor& labels,
               int64_t copies, double label_smoothing = 0);

  int64_t examples() const { return examples_; }
  const Tensor& sq_norms() const { return sq_norms_; }  // [B]
  const Tensor& logits() const { return logits_; }      // [K*B, classes]
  const Tensor& loss() const { return loss_; }          // scalar: mean cross-entropy over the K*B samples
  // acc [P] += sum_e weights[e] * g_e (weights [B], acc contiguous, theta's dtype and device), in full fp32
  // on the GPU whatever the stream's TF32 policy, so a clipped contribution keeps its bound.
  void accumulate(Stream& s, const Tensor& acc, const Tensor& weights) const;
  // All per-example gradients as one dense [B, P] tensor (tests).
  Tensor dense(Stream& s) const;

 private:
  struct Block {
    int64_t offset = 0;  // parameter range [offset, offset + g.size(1)) of theta
    Tensor g;            // [B, n]
  };
  const Model& model_;
  int64_t examples_ = 0;
  std::vector<Block> blocks_;
  Tensor sq_norms_, logits_, loss_;
};

}  // namespace sp::dpsgd
