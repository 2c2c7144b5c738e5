// log_softmax, softmax, cross_entropy (hard with and without smoothing, soft), kl_div (T = 1, 4), mse_loss: CUDA
// against the CPU reference in f32, forward and every input gradient, on several shapes (short and long
// rows, row counts that leave warps idle, more elements than the MSE partial-sum grid), plus +-1000
// logits and the NaN marking of out-of-range labels on the GPU; and the double backward of each op.
#include <cmath>

#include "nn/ops_loss.h"
#include "tests/gpu/gpu_test_util.h"

using namespace sp;
using namespace sp::ag;
using namespace sp::test;

SP_BACKEND_TESTED(log_softmax);
SP_BACKEND_TESTED(softmax);
SP_BACKEND_TESTED(cross_entropy);
SP_BACKEND_TESTED(kl_div);
SP_BACKEND_TESTED(mse_loss);
SP_BACKEND2_TESTED(log_softmax);
SP_BACKEND2_TESTED(softmax);
SP_BACKEND2_TESTED(cross_entropy);
SP_BACKEND2_TESTED(kl_div);
SP_BACKEND2_TESTED(mse_loss);

namespace {

Tensor random_labels(int64_t N, int64_t C, uint64_t seed) {
  std::mt19937_64 g(seed);
  std::vector<int64_t> y(static_cast<size_t>(N));
  for (auto& v : y) v = int64_t(g() % uint64_t(C));
  return Tensor::from_vector(y, {N});
}

// The labels on the tape's device.
Tensor on(Tape& t, const Tensor& cpu) { return cpu.to(t.stream().device(), t.stream()); }

const std::vector<Shape> kLogitShapes = {Shape{64, 10}, Shape{300, 1000}, Shape{1, 7}, Shape{13, 33}};

}  // namespace

TEST(OpsLossGpu, LogSoftmaxMatchesCpu) {
  SP_REQUIRE_GPU();
  for (Shape s : {Shape{7, 13}, Shape{300, 1000}, Shape{2, 3, 5}, Shape{5, 1}, Shape{4, 3000}})
    compare_backends(
        {randn(s, DType::f32, 1, 5.0)}, {true}, [](Tape& t, const std::vector<Var>& v) { return log_softmax(t, v[0]); },
        1e-5, 1e-5);
}

TEST(OpsLossGpu, CrossEntropyHardMatchesCpu) {
  SP_REQUIRE_GPU();
  for (Shape s : kLogitShapes) {
    Tensor y = random_labels(s[0], s[1], 2);
    for (double eps : {0.0, 0.1})
      compare_backends(
          {randn(s, DType::f32, 3, 3.0)}, {true},
          [&](Tape& t, const std::vector<Var>& v) { return cross_entropy(t, v[0], on(t, y), eps); }, 1e-5, 1e-6);
  }
}

TEST(OpsLossGpu, CrossEntropySoftMatchesCpu) {
  SP_REQUIRE_GPU();
  for (Shape s : kLogitShapes)
    for (double eps : {0.0, 0.2})
      compare_backends(
          {randn(s, DType::f32, 4, 3.0), rand_uniform(s, DType::f32, 5, 0.0, 1.0)}, {true, true},
          [eps](Tape& t, const std::vector<Var>& v) { return cross_entropy(t, v[0], v[1], eps); }, 1e-5, 1e-6);
}

TEST(OpsLossGpu, KlDivMatchesCpu) {
  SP_REQUIRE_GPU();
  for (Shape s : kLogitShapes)
    for (double T : {1.0, 4.0}) {
      compare_backends(
          {randn(s, DType::f32, 6, 3.0), randn(s, DType::f32, 7, 4.0)}, {true, true},
          [T](Tape& t, const std::vector<Var>& v) { return kl_div(t, v[0], v[1], T); }, 1e-4, 1e-6);
      compare_backends(
          {randn(s, DType::f32, 6, 3.0), randn(s, DType::f32, 7, 4.0)}, {false, true},
          [T](Tape& t, const std::vector<Var>& v) { return kl_div(t, v[0], v[1], T); }, 1e-4, 1e-6);
    }
}

TEST(OpsLossGpu, MseMatchesCpu) {
  SP_REQUIRE_GPU();
  for (Shape s : {Shape{1000, 33}, Shape{64, 3, 32, 32}, Shape{4096, 1024}, Shape{1}})
    compare_backends(
        {randn(s, DType::f32, 8), randn(s, DType::f32, 9, 2.0)}, {true, true},
        [](Tape& t, const std::vector<Var>& v) { return mse_loss(t, v[0], v[1]); }, 1e-5, 1e-7);
}

TEST(OpsLossGpu, HugeLogitsStayFinite) {
  SP_REQUIRE_GPU();
  Tensor x = Tensor::from_vector<float>({1000, -1000, 0, -1000, 1000, 1000}, {2, 3});
  Tensor te = Tensor::from_vector<float>({-1000, 1000, 0, 1000, -1000, 0}, {2, 3});
  Tensor y = Tensor::from_vector<int64_t>({0, 0}, {2});
  compare_backends(
      {x}, {true}, [&](Tape& t, const std::vector<Var>& v) { return cross_entropy(t, v[0], on(t, y), 0.1); }, 1e-6,
      1e-6);
  compare_backends(
      {x, te}, {true, true}, [](Tape& t, const std::vector<Var>& v) { return kl_div(t, v[0], v[1], 4.0); }, 1e-6, 1e-6);
  compare_backends(
      {x, te}, {true, true}, [](Tape& t, const std::vector<Var>& v) { return cross_entropy(t, v[0], v[1]); }, 1e-6,
      1e-6);
  compare_backends(
      {x}, {true}, [](Tape& t, const std::vector<Var>& v) { return log_softmax(t, v[0]); }, 1e-6, 1e-6);
}

TEST(OpsLossGpu, OutOfRangeLabelGivesNaN) {
  SP_REQUIRE_GPU();
  Stream& g = gpu_stream();
  Tape t(g);
  Var x = t.leaf(randn({3, 4}, DType::f32, 10).to(g.device(), g), true);
  Var loss = cross_entropy(t, x, Tensor::from_vector<int64_t>({0, 7, 1}, {3}).to(g.device(), g));
  EXPECT_TRUE(std::isnan(t.value(loss).to(Device::cpu(), g).item()));
  auto grad = as_doubles(t.grad(loss, {x})[0], g);
  EXPECT_TRUE(std::isnan(grad[4]) && !std::isnan(grad[0])) << "row 1 marked, row 0 intact";
}

TEST(OpsLossGpu, LogSoftmaxDoubleBackwardMatchesCpu) {
  SP_REQUIRE_GPU();
  for (Shape s : {Shape{7, 13}, Shape{2, 3, 5}, Shape{4, 1000}})
    compare_double_backward(
        {randn(s, DType::f32, 11, 3.0)}, {true},
        [](Tape& t, const std::vector<Var>& v) { return log_softmax(t, v[0]); }, 1e-4, 1e-5);
}

TEST(OpsLossGpu, CrossEntropyDoubleBackwardMatchesCpu) {
  SP_REQUIRE_GPU();
  for (Shape s : kLogitShapes) {
    Tensor y = random_labels(s[0], s[1], 12);
    for (double eps : {0.0, 0.1}) {
      compare_double_backward(
          {randn(s, DType::f32, 13, 3.0)}, {true},
          [&](Tape& t, const std::vector<Var>& v) { return cross_entropy(t, v[0], on(t, y), eps); }, 1e-4, 1e-6);
      compare_double_backward(
          {randn(s, DType::f32, 14, 3.0), rand_uniform(s, DType::f32, 15, 0.0, 1.0)}, {true, true},
          [eps](Tape& t, const std::vector<Var>& v) { return cross_entropy(t, v[0], v[1], eps); }, 1e-4, 1e-6);
    }
  }
}

TEST(OpsLossGpu, KlDivAndMseDoubleBackwardMatchCpu) {
  SP_REQUIRE_GPU();
  for (Shape s : kLogitShapes)
    for (double T : {1.0, 4.0})
      compare_double_backward(
          {randn(s, DType::f32, 16, 3.0), randn(s, DType::f32, 17, 4.0)}, {true, true},
          [T](Tape& t, const std::vector<Var>& v) { return kl_div(t, v[0], v[1], T); }, 1e-4, 1e-6);
  for (Shape s : {Shape{1000, 33}, Shape{1}})
    compare_double_backward(
        {randn(s, DType::f32, 18), randn(s, DType::f32, 19, 2.0)}, {true, true},
        [](Tape& t, const std::vector<Var>& v) { return mse_loss(t, v[0], v[1]); }, 1e-5, 1e-7);
}

TEST(OpsLossGpu, SoftmaxMatchesCpu) {
  SP_REQUIRE_GPU();
  // Short and long rows, row counts that leave warps idle, and attention-sized inputs: [64, 256, 256]
  // (16384 rows of 256) and rows of 4096.
  for (Shape s : {Shape{7, 13}, Shape{300, 1000}, Shape{2, 3, 5}, Shape{5, 1}, Shape{4, 3000}, Shape{64, 256, 256},
                  Shape{33, 4096}})
    compare_backends(
        {randn(s, DType::f32, 20, 5.0)}, {true}, [](Tape& t, const std::vector<Var>& v) { return softmax(t, v[0]); },
        1e-5, 1e-6);
  compare_backends(
      {randn({9, 130}, DType::f64, 21, 5.0)}, {true},
      [](Tape& t, const std::vector<Var>& v) { return softmax(t, v[0]); }, 1e-12, 1e-14);
  // +-1000 and -inf logits stay finite and agree.
  compare_backends(
      {Tensor::from_vector<float>({1000, -1000, 0, -INFINITY, 1000, 1000}, {2, 3})}, {true},
      [](Tape& t, const std::vector<Var>& v) { return softmax(t, v[0]); }, 1e-6, 1e-6);
  // x used twice: the backward accumulates into the gradient (beta = 1).
  compare_backends(
      {randn({17, 70}, DType::f32, 22, 3.0)}, {true},
      [](Tape& t, const std::vector<Var>& v) { return mul(t, softmax(t, v[0]), v[0]); }, 1e-5, 1e-6);
}

TEST(OpsLossGpu, SoftmaxDoubleBackwardMatchesCpu) {
  SP_REQUIRE_GPU();
  for (Shape s : {Shape{7, 13}, Shape{2, 3, 5}, Shape{4, 1000}, Shape{3, 4096}})
    compare_double_backward(
        {randn(s, DType::f32, 23, 3.0)}, {true}, [](Tape& t, const std::vector<Var>& v) { return softmax(t, v[0]); },
        1e-4, 1e-6);
}
