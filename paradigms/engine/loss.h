// The trainer's pluggable loss (paradigms/engine/train_loop.h): the mean loss of a batch from the model's
// logits, as a scalar tape value.
//   HardCrossEntropy   cross-entropy against the batch's hard labels, with label smoothing (the baseline's);
//   SoftCrossEntropy   cross-entropy against the batch's soft labels (dataset distillation's learned labels);
//   Distillation       knowledge distillation: T^2 * KL(softmax(teacher / T) || softmax(student / T)), the
//                      teacher a frozen function of the batch's images (its logits carry no gradient).
// Tested in tests/test_training_loss.cpp (soft with one-hot labels equals hard; the KD gradient against a
// hand computation; a frozen teacher gets no gradient).
#pragma once
#include <functional>
#include <memory>

#include "paradigms/engine/training_source.h"
#include "nn/tape.h"

namespace sp {

class Loss {
 public:
  virtual ~Loss() = default;
  virtual Var compute(Tape& t, Var logits, const Batch& b) const = 0;
};

class HardCrossEntropy final : public Loss {
 public:
  explicit HardCrossEntropy(double label_smoothing = 0) : smoothing_(label_smoothing) {}
  Var compute(Tape& t, Var logits, const Batch& b) const override;

 private:
  double smoothing_;
};

class SoftCrossEntropy final : public Loss {
 public:
  explicit SoftCrossEntropy(double label_smoothing = 0) : smoothing_(label_smoothing) {}
  Var compute(Tape& t, Var logits, const Batch& b) const override;  // needs b.soft [b, classes]

 private:
  double smoothing_;
};

class Distillation final : public Loss {
 public:
  // teacher(s, x): the frozen teacher's logits [b, classes] for the model input x (computed without a tape).
  using Teacher = std::function<Tensor(const Tensor& x)>;
  Distillation(Teacher teacher, double temperature);
  Var compute(Tape& t, Var logits, const Batch& b) const override;

 private:
  Teacher teacher_;
  double temperature_;
};

}  // namespace sp
