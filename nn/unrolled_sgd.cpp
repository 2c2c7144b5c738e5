// Unrolled SGD (see unrolled_sgd.h).
#include "nn/unrolled_sgd.h"

#include "kernels/error.h"
#include "nn/ops_elementwise.h"
#include "nn/ops_loss.h"

namespace sp {

Var unrolled_sgd(Tape& t, const Model& model, Var theta0, Var lr, std::span<const UnrolledBatch> batches,
                 const Tensor& buffers) {
  SP_CHECK(t.value(lr).numel() == 1, "unrolled_sgd: the learning rate ", t.value(lr).str(), " must be a scalar");
  SP_CHECK(t.requires_grad(theta0), "unrolled_sgd: theta0 must require grad (the inner gradients are taken "
           "w.r.t. it; the meta-gradient sweep skips it unless asked)");
  SP_CHECK(t.value(theta0).dim() == 1, "unrolled_sgd: theta ", t.value(theta0).str(), " must be a flat vector");
  // A [1] lr broadcasts as a scalar only in its 0-dim form.
  Var step = t.value(lr).dim() == 0 ? lr : t.reshape(lr, {});
  Var theta = theta0;
  for (size_t k = 0; k < batches.size(); ++k) {
    const UnrolledBatch& b = batches[k];
    SP_CHECK(b.labels.defined() != b.soft_targets.valid(), "unrolled_sgd: batch ", k,
             " needs exactly one of hard labels and soft targets");
    Var logits = model.forward(t, theta, buffers, b.x, true);
    Var loss = b.labels.defined() ? ag::cross_entropy(t, logits, b.labels) : ag::cross_entropy(t, logits, b.soft_targets);
    Var g = t.grad_graph(loss, {theta})[0];
    theta = ag::sub(t, theta, ag::mul(t, step, g));
  }
  return theta;
}

}  // namespace sp
