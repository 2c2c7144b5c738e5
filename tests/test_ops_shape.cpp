// concat and upsample_nearest on the CPU: values against hand-written results (several axes, empty and
// strided parts), gradients (finite differences in f64; an input listed twice; overlapping parameter views)
// and bad input.
#include "kernels/concat.h"
#include "kernels/upsample.h"
#include "nn/ops_shape.h"
#include "tests/test_util.h"

using namespace sp;
using namespace sp::ag;
using namespace sp::test;

SP_GRAD_TESTED(concat);
SP_GRAD_TESTED(upsample_nearest);

namespace {

Tensor concat_of(const std::vector<Tensor>& xs, int axis) {
  Tape t(Stream::cpu());
  std::vector<Var> vs;
  for (const Tensor& x : xs) vs.push_back(t.leaf(x));
  return t.value(concat(t, vs, axis));
}

}  // namespace

TEST(OpsShape, ConcatValues) {
  Tensor a = Tensor::from_vector<double>({1, 2, 3, 4}, {2, 2});
  Tensor b = Tensor::from_vector<double>({5, 6}, {2, 1});
  Tensor c = Tensor::from_vector<double>({7, 8}, {1, 2});
  Tensor y = concat_of({a, b}, 1);
  EXPECT_EQ(y.shape(), Shape({2, 3}));
  EXPECT_EQ(y.to_vector<double>(), (std::vector<double>{1, 2, 5, 3, 4, 6}));
  EXPECT_EQ(concat_of({a, c}, 0).to_vector<double>(), (std::vector<double>{1, 2, 3, 4, 7, 8}));
  EXPECT_EQ(concat_of({b, a, b}, -1).to_vector<double>(), (std::vector<double>{5, 1, 2, 5, 6, 3, 4, 6}));
  EXPECT_EQ(concat_of({a}, 0).to_vector<double>(), a.to_vector<double>());
  // Empty part and a transposed (strided) part.
  Tensor empty = Tensor::zeros({2, 0}, DType::f64);
  EXPECT_EQ(concat_of({empty, a.transpose(0, 1), empty}, 1).to_vector<double>(),
            (std::vector<double>{1, 3, 2, 4}));
}

TEST(OpsShape, ConcatMiddleAxisOf3D) {
  Tensor a = randn({2, 3, 4}, DType::f32, 1), b = randn({2, 1, 4}, DType::f32, 2), c = randn({2, 2, 4}, DType::f32, 3);
  Tensor y = concat_of({a, b, c}, 1);
  ASSERT_EQ(y.shape(), Shape({2, 6, 4}));
  for (int n = 0; n < 2; ++n)
    for (int k = 0; k < 4; ++k) {
      for (int j = 0; j < 3; ++j) EXPECT_EQ(y.item({n, j, k}), a.item({n, j, k}));
      EXPECT_EQ(y.item({n, 3, k}), b.item({n, 0, k}));
      for (int j = 0; j < 2; ++j) EXPECT_EQ(y.item({n, 4 + j, k}), c.item({n, j, k}));
    }
}

TEST(OpsShape, ConcatGradients) {
  Tensor a = randn({2, 3, 4}, DType::f64, 1), b = randn({2, 2, 4}, DType::f64, 2), c = randn({2, 1, 4}, DType::f64, 3);
  for (std::vector<bool> wrt : {std::vector<bool>{true, true, true}, {false, true, false}, {true, false, true}})
    check_gradients({a, b, c}, wrt,
                    [](Tape& t, const std::vector<Var>& v) { return concat(t, {v[0], v[1], v[2]}, 1); });
  check_gradients({randn({3, 2}, DType::f64, 4), randn({1, 2}, DType::f64, 5)}, {true, true},
                  [](Tape& t, const std::vector<Var>& v) { return concat(t, {v[0], v[1]}, 0); });
  check_gradients({randn({3, 2}, DType::f64, 4), randn({5, 3}, DType::f64, 5).transpose(0, 1)}, {true, true},
                  [](Tape& t, const std::vector<Var>& v) { return concat(t, {v[1], v[0]}, -1); });
  // The same input twice: its gradient is the sum of both slices.
  check_gradients({randn({2, 3}, DType::f64, 6)}, {true},
                  [](Tape& t, const std::vector<Var>& v) { return concat(t, {v[0], v[0]}, 0); });
}

TEST(OpsShape, ConcatOverlappingParameterViews) {
  Tape t(Stream::cpu());
  Var th = t.leaf(Tensor::from_vector<double>({0, 1, 2, 3, 4, 5}, {6}), true);
  Var w1 = t.view(th, 0, {4}), w2 = t.view(th, 2, {4});  // elements 2 and 3 are in both
  Var y = concat(t, {w1, w2, w1}, 0);
  std::vector<double> s(12);
  for (int i = 0; i < 12; ++i) s[i] = i + 1;
  Tensor seed = Tensor::from_vector(s, {12});
  auto g = t.grad(y, {th}, &seed);
  // w1 gets s[0..4) + s[8..12); w2 gets s[4..8) at theta[2..6).
  EXPECT_EQ(g[0].to_vector<double>(), (std::vector<double>{1 + 9, 2 + 10, 3 + 11 + 5, 4 + 12 + 6, 7, 8}));
}

TEST(OpsShape, UpsampleValues) {
  Tape t(Stream::cpu());
  Var x = t.leaf(Tensor::from_vector<double>({1, 2, 3, 4}, {1, 1, 2, 2}), true);
  Var y = upsample_nearest(t, x, 2, 3);
  EXPECT_EQ(t.value(y).shape(), Shape({1, 1, 4, 6}));
  EXPECT_EQ(t.value(y).to_vector<double>(),
            (std::vector<double>{1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 3, 3, 3, 4, 4, 4}));
  std::vector<double> s(24);
  for (int i = 0; i < 24; ++i) s[i] = i;
  Tensor seed = Tensor::from_vector(s, {1, 1, 4, 6});
  // Block sums: rows {0, 1} x cols {0, 1, 2} = 0+1+2+6+7+8 = 24; rows {2, 3} x cols {3, 4, 5} = 114.
  EXPECT_EQ(t.grad(y, {x}, &seed)[0].to_vector<double>(), (std::vector<double>{24, 42, 96, 114}));
}

TEST(OpsShape, UpsampleGradients) {
  for (auto [sh, sw] : {std::pair<int, int>{2, 2}, {1, 3}, {3, 1}, {1, 1}}) {
    SCOPED_TRACE(std::to_string(sh) + "x" + std::to_string(sw));
    check_gradients({randn({2, 3, 3, 4}, DType::f64, 7)}, {true}, [sh, sw](Tape& t, const std::vector<Var>& v) {
      return upsample_nearest(t, v[0], sh, sw);
    });
  }
  check_gradients({randn({2, 3, 4, 5}, DType::f64, 8).permute({0, 1, 3, 2})}, {true},
                  [](Tape& t, const std::vector<Var>& v) { return upsample_nearest(t, v[0], 2, 1); });
}

TEST(OpsShape, BadInput) {
  Tape t(Stream::cpu());
  Var a = t.leaf(Tensor::zeros({2, 3}, DType::f32));
  Var b = t.leaf(Tensor::zeros({3, 3}, DType::f32));
  Var c = t.leaf(Tensor::zeros({2, 3}, DType::f64));
  std::string msg = error_of([&] { concat(t, {a, b}, 1); });
  EXPECT_NE(msg.find("concat: input 1 F32[3, 3] cpu does not match input 0 F32[2, 3] cpu"), std::string::npos)
      << msg;
  EXPECT_NO_THROW(concat(t, {a, b}, 0));
  msg = error_of([&] { concat(t, {a, b}, 2); });
  EXPECT_NE(msg.find("concat: axis 2 out of range for [2, 3]"), std::string::npos) << msg;
  msg = error_of([&] { concat(t, {a, c}, 0); });
  EXPECT_NE(msg.find("concat: dtypes differ"), std::string::npos) << msg;
  EXPECT_THROW(concat(t, {}, 0), Error);
  msg = error_of([&] { upsample_nearest(t, a, 2, 2); });
  EXPECT_NE(msg.find("upsample_nearest: input [2, 3] is not NCHW"), std::string::npos) << msg;
  Var x4 = t.leaf(Tensor::zeros({1, 1, 2, 2}, DType::f32));
  EXPECT_THROW(upsample_nearest(t, x4, 0, 2), Error);
  EXPECT_THROW(upsample_nearest(t, t.leaf(Tensor::zeros({1, 1, 2, 2}, DType::i32)), 2, 2), Error);
  Stream& s = Stream::cpu();
  EXPECT_THROW(upsample_nearest(s, Tensor::empty({1, 1, 4, 3}, DType::f32), t.value(x4), 2, 2), Error);
  Tensor gy = Tensor::zeros({4, 3}, DType::f32);
  std::vector<ConcatGrad> too_long = {{Tensor::empty({3, 3}, DType::f32), 2, 0.0}};
  EXPECT_THROW(concat_backward(s, too_long, gy, 0), Error);
}
