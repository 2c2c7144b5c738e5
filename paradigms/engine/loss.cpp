// The trainer's losses (see loss.h).
#include "paradigms/engine/loss.h"

#include "nn/ops_loss.h"

namespace sp {

Var HardCrossEntropy::compute(Tape& t, Var logits, const Batch& b) const {
  return ag::cross_entropy(t, logits, b.labels, smoothing_);
}

Var SoftCrossEntropy::compute(Tape& t, Var logits, const Batch& b) const {
  SP_CHECK(b.soft.defined(), "soft-label cross-entropy: the training source gives no soft labels");
  return ag::cross_entropy(t, logits, t.leaf(b.soft), smoothing_);
}

Distillation::Distillation(Teacher teacher, double temperature)
    : teacher_(std::move(teacher)), temperature_(temperature) {
  SP_CHECK(teacher_ && temperature > 0, "distillation loss: needs a teacher and a temperature > 0 (got ",
           temperature, ")");
}

Var Distillation::compute(Tape& t, Var logits, const Batch& b) const {
  // The teacher's logits enter as a constant leaf: frozen, so no gradient reaches the teacher.
  return ag::kl_div(t, logits, t.leaf(teacher_(b.x)), temperature_);
}

}  // namespace sp
