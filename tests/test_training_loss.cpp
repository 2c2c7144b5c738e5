// The trainer's losses (paradigms/engine/loss.h): soft-label cross-entropy with one-hot labels is hard
// cross-entropy (value and gradient, with and without label smoothing), the distillation loss and its
// gradient equal the hand computation T^2 * mean KL(softmax(t/T) || softmax(s/T)) and (T / N) (softmax(s/T) -
// softmax(t/T)), the teacher sees the batch's images and gets no gradient, and missing soft labels are an error.
#include <cmath>

#include "paradigms/engine/loss.h"
#include "tests/test_util.h"

using namespace sp;
using namespace sp::test;

namespace {

constexpr int64_t kN = 4, kC = 5;

Tensor one_hot(const std::vector<int64_t>& labels) {
  std::vector<double> v(labels.size() * kC, 0.0);
  for (size_t i = 0; i < labels.size(); ++i) v[i * kC + size_t(labels[i])] = 1.0;
  return Tensor::from_vector(v, {int64_t(labels.size()), kC});
}

std::vector<double> softmax_row(const std::vector<double>& z, int64_t row, double temperature) {
  std::vector<double> p(kC);
  double m = -1e300, sum = 0;
  for (int64_t j = 0; j < kC; ++j) m = std::max(m, z[size_t(row * kC + j)] / temperature);
  for (int64_t j = 0; j < kC; ++j) sum += p[size_t(j)] = std::exp(z[size_t(row * kC + j)] / temperature - m);
  for (double& x : p) x /= sum;
  return p;
}

// Value and gradient of `loss` with respect to the logits.
std::pair<double, std::vector<double>> evaluate(const Loss& loss, const Tensor& logits, const Batch& b) {
  Tape t(Stream::cpu());
  Var z = t.leaf(logits, true);
  Var l = loss.compute(t, z, b);
  return {t.value(l).item(), t.grad(l, {z})[0].to_vector<double>()};
}

}  // namespace

TEST(TrainingLoss, SoftCrossEntropyWithOneHotLabelsIsHardCrossEntropy) {
  const std::vector<int64_t> labels = {0, 3, 4, 1};
  Tensor logits = randn({kN, kC}, DType::f64, 3, 2.0);
  Batch b;
  b.labels = Tensor::from_vector(labels, {kN});
  b.soft = one_hot(labels);
  for (double smoothing : {0.0, 0.1}) {
    auto hard = evaluate(HardCrossEntropy(smoothing), logits, b);
    auto soft = evaluate(SoftCrossEntropy(smoothing), logits, b);
    EXPECT_NEAR(hard.first, soft.first, 1e-12) << smoothing;
    ASSERT_EQ(hard.second.size(), soft.second.size());
    for (size_t i = 0; i < hard.second.size(); ++i) EXPECT_NEAR(hard.second[i], soft.second[i], 1e-12) << i;
  }
  Batch no_soft;
  no_soft.labels = b.labels;
  expect_error_mentioning([&] { evaluate(SoftCrossEntropy(), logits, no_soft); }, "no soft labels");
}

TEST(TrainingLoss, DistillationIsTemperatureScaledKlAgainstAFrozenTeacher) {
  const double T = 2.5;
  Tensor student = randn({kN, kC}, DType::f64, 5, 1.5), teacher = randn({kN, kC}, DType::f64, 6, 1.5);
  Batch b;
  b.x = randn({kN, 3, 2, 2}, DType::f64, 7);
  int calls = 0;
  Distillation kd(
      [&](const Tensor& x) {
        ++calls;
        EXPECT_EQ(x.storage(), b.x.storage()) << "the teacher sees the batch's images";
        return teacher;
      },
      T);
  auto [value, grad] = evaluate(kd, student, b);
  EXPECT_EQ(calls, 1);
  const std::vector<double> s = student.to_vector<double>(), t = teacher.to_vector<double>();
  double want = 0;
  for (int64_t n = 0; n < kN; ++n) {
    std::vector<double> ps = softmax_row(s, n, T), pt = softmax_row(t, n, T);
    for (int64_t j = 0; j < kC; ++j) {
      want += pt[size_t(j)] * std::log(pt[size_t(j)] / ps[size_t(j)]);
      EXPECT_NEAR(grad[size_t(n * kC + j)], T / double(kN) * (ps[size_t(j)] - pt[size_t(j)]), 1e-12);
    }
  }
  EXPECT_NEAR(value, T * T * want / double(kN), 1e-12);
  EXPECT_GT(value, 0.0);
  EXPECT_THROW(Distillation(nullptr, 1.0), Error);
  EXPECT_THROW(Distillation([](const Tensor& x) { return x; }, 0.0), Error);
}
