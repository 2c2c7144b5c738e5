// Tape mechanics: accumulation with beta, aliasing views of a flat parameter vector, recording switch,
// gradients w.r.t. inputs, and errors.
#include "nn/tape.h"

#include "nn/ops_scale.h"
#include "tests/test_util.h"

using namespace sp;
using namespace sp::ag;

TEST(Tape, ReusableAndZeroForUnrelatedVars) {
  Tape t(Stream::cpu());
  Var x = t.leaf(Tensor::from_vector<double>({1, 2}, {2}), true);
  Var a = scale(t, x, 3.0);
  Var b = scale(t, x, 5.0);
  Var y = scale(t, a, 2.0);
  Tensor seed = Tensor::from_vector<double>({1, 1}, {2});
  auto g = t.grad(y, {x}, &seed);
  EXPECT_EQ(g[0].to_vector<double>(), (std::vector<double>{6, 6}));
  auto g2 = t.grad(b, {x, a}, &seed);  // tape is reusable; a does not feed b: zero gradient
  EXPECT_EQ(g2[0].to_vector<double>(), (std::vector<double>{5, 5}));
  EXPECT_EQ(g2[1].to_vector<double>(), (std::vector<double>{0, 0}));
}

TEST(Tape, FlatParameterViewsAliasTheFlatGradient) {
  Tape t(Stream::cpu());
  Tensor theta = Tensor::from_vector<double>({1, 2, 3, 4, 5, 6}, {6});
  Var th = t.leaf(theta, true);
  Var w1 = t.view(th, 0, {2});     // elements 0..1
  Var w2 = t.view(th, 2, {2, 2});  // elements 2..5
  Var w2a = t.view(w2, 2, {2});    // a view of a view: elements 4..5
  Var y1 = scale(t, w1, 10.0);
  Var y2 = scale(t, w2a, -1.0);
  Tensor s = Tensor::from_vector<double>({1, 2}, {2});
  auto g = t.grad(y1, {th, w1}, &s);
  EXPECT_EQ(g[0].to_vector<double>(), (std::vector<double>{10, 20, 0, 0, 0, 0}));
  EXPECT_EQ(g[1].to_vector<double>(), (std::vector<double>{10, 20}));
  auto h = t.grad(y2, {th}, &s);
  EXPECT_EQ(h[0].to_vector<double>(), (std::vector<double>{0, 0, 0, 0, -1, -2}));
  EXPECT_EQ(t.value(w2a).to_vector<double>(), (std::vector<double>{5, 6}));
}

TEST(Tape, ReshapeKeepsGradientFlowing) {
  Tape t(Stream::cpu());
  Var x = t.leaf(Tensor::from_vector<double>({1, 2, 3, 4}, {2, 2}), true);
  Var r = t.reshape(scale(t, x, 2.0), {4});
  Var y = scale(t, r, 3.0);
  Tensor s = Tensor::from_vector<double>({1, 0, 0, 1}, {4});
  auto g = t.grad(y, {x}, &s);
  EXPECT_EQ(g[0].shape(), Shape({2, 2}));
  EXPECT_EQ(g[0].to_vector<double>(), (std::vector<double>{6, 0, 0, 6}));
}

TEST(Tape, NonScalarLossNeedsSeed) {
  Tape t(Stream::cpu());
  Var x = t.leaf(Tensor::from_vector<double>({1, 2}, {2}), true);
  Var y = scale(t, x, 2.0);
  EXPECT_THROW(t.grad(y, {x}), Error);
  Tensor bad = Tensor::from_vector<double>({1, 2, 3}, {3});
  EXPECT_THROW(t.grad(y, {x}, &bad), Error);
}

TEST(Tape, NoGradRecordsNothing) {
  Tape t(Stream::cpu());
  Var x = t.leaf(Tensor::from_vector<double>({1, 2}, {2}), true);
  Var y;
  {
    NoGrad ng(t);
    y = scale(t, x, 2.0);
  }
  EXPECT_FALSE(t.requires_grad(y));
  EXPECT_TRUE(t.recording());
  Tensor s = Tensor::from_vector<double>({1, 1}, {2});
  auto g = t.grad(y, {x}, &s);
  EXPECT_EQ(g[0].to_vector<double>(), (std::vector<double>{0, 0}));
  t.clear();
  EXPECT_EQ(t.size(), 0);
  EXPECT_THROW(t.value(x), Error);
}
