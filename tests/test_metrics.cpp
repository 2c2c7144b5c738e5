// accumulate_metrics on the CPU: loss sums, argmax ties (first index wins), bad input.
#include "kernels/metrics.h"
#include "tests/test_util.h"

using namespace sp;

TEST(Metrics, AccumulatesLossAndCorrectCount) {
  Tensor acc = Tensor::zeros({2}, DType::f64);
  Tensor logits = Tensor::from_vector<float>({1, 3, 2, /**/ 5, 5, 0, /**/ 0, 0, 1, /**/ -1, -2, -3}, {4, 3});
  Tensor labels = Tensor::from_vector<int64_t>({1, 1, 2, 0}, {4});  // row 1 ties: argmax 0, so wrong
  accumulate_metrics(Stream::cpu(), acc, Tensor::full({}, 0.5, DType::f32), logits, labels);
  accumulate_metrics(Stream::cpu(), acc, Tensor::full({}, 0.25, DType::f32), logits, labels);
  EXPECT_EQ(acc.to_vector<double>(), (std::vector<double>{3.0, 6.0}));
}

TEST(Metrics, RejectsBadInput) {
  Tensor acc = Tensor::zeros({2}, DType::f64);
  Tensor logits = Tensor::zeros({4, 3}, DType::f32);
  Tensor loss = Tensor::zeros({}, DType::f32);
  EXPECT_THROW(accumulate_metrics(Stream::cpu(), acc, loss, logits, Tensor::zeros({3}, DType::i64)), Error);
  EXPECT_THROW(accumulate_metrics(Stream::cpu(), acc, loss, logits, Tensor::zeros({4}, DType::i32)), Error);
  EXPECT_THROW(accumulate_metrics(Stream::cpu(), Tensor::zeros({2}, DType::f32), loss, logits,
                                  Tensor::zeros({4}, DType::i64)),
               Error);
}
