// Tape::grad_graph: gradients as recorded values (values equal grad's, differentiable again), flat-parameter
// views assembled into one flat gradient, pruning to the paths that reach wrt, constants where the loss does
// not depend on a wrt, and errors (an op without a differentiable backward, a Var of another tape or from
// before clear(), a non-scalar loss without a seed).
#include "nn/ops_elementwise.h"
#include "nn/ops_reduce.h"
#include "nn/ops_scale.h"
#include "nn/tape.h"
#include "tests/test_util.h"

using namespace sp;
using namespace sp::ag;
using namespace sp::test;

TEST(TapeSecondOrder, CubicHasTheExactSecondDerivative) {
  Tape t(Stream::cpu());
  Tensor xv = Tensor::from_vector<double>({1, -2, 3}, {3});
  Var x = t.leaf(xv, true);
  Var f = sum(t, mul(t, x, mul(t, x, x)));  // sum x^3
  std::vector<Var> g = t.grad_graph(f, {x});
  EXPECT_EQ(t.value(g[0]).to_vector<double>(), (std::vector<double>{3, 12, 27}));
  EXPECT_TRUE(t.requires_grad(g[0]));
  Var v = t.leaf(Tensor::from_vector<double>({1, 10, 100}, {3}));
  Var h = sum(t, mul(t, g[0], v));  // <3 x^2, v>
  std::vector<Tensor> hx = t.grad(h, {x});
  EXPECT_EQ(hx[0].to_vector<double>(), (std::vector<double>{6, -120, 1800}));  // 6 x v
  // Third order through the recorded gradient: d/dx <6 x v, 1> = 6 v.
  std::vector<Var> g2 = t.grad_graph(h, {x});
  std::vector<Tensor> g3 = t.grad(sum(t, g2[0]), {x});
  EXPECT_EQ(g3[0].to_vector<double>(), (std::vector<double>{6, 60, 600}));
}

TEST(TapeSecondOrder, FlatParameterViewsGiveOneFlatGradient) {
  Tape t(Stream::cpu());
  Var th = t.leaf(Tensor::from_vector<double>({1, 2, 3, 4, 5, 6}, {6}), true);
  Var a = t.view(th, 0, {2});     // 1, 2
  Var b = t.view(th, 4, {2});     // 5, 6 (elements 2..3 unused)
  Var f = add(t, sum(t, mul(t, a, a)), sum(t, scale(t, b, 3.0)));
  std::vector<Var> g = t.grad_graph(f, {th, b});
  EXPECT_EQ(t.value(g[0]).to_vector<double>(), (std::vector<double>{2, 4, 0, 0, 3, 3}));
  EXPECT_EQ(t.value(g[1]).to_vector<double>(), (std::vector<double>{3, 3}));
  std::vector<Tensor> first = t.grad(f, {th});
  EXPECT_TRUE(all_close(t.value(g[0]), first[0], 0, 0));
  // The flat gradient is differentiable: d/dtheta sum(g * g) = 2 g dg/dtheta = (8, 16, 0, 0, 0, 0).
  std::vector<Tensor> hh = t.grad(sum(t, mul(t, g[0], g[0])), {th});
  EXPECT_EQ(hh[0].to_vector<double>(), (std::vector<double>{8, 16, 0, 0, 0, 0}));
}

TEST(TapeSecondOrder, OverlappingViewsAreSummed) {
  Tape t(Stream::cpu());
  Var th = t.leaf(Tensor::from_vector<double>({1, 2, 3}, {3}), true);
  Var a = t.view(th, 0, {2}), b = t.view(th, 1, {2});
  Var f = add(t, sum(t, mul(t, a, a)), sum(t, b));
  std::vector<Var> g = t.grad_graph(f, {th});
  EXPECT_EQ(t.value(g[0]).to_vector<double>(), (std::vector<double>{2, 5, 1}));
  EXPECT_TRUE(all_close(t.value(g[0]), t.grad(f, {th})[0], 0, 0));
}

TEST(TapeSecondOrder, UnrelatedWrtGetsAConstantZero) {
  Tape t(Stream::cpu());
  Var x = t.leaf(Tensor::from_vector<double>({1, 2}, {2}), true);
  Var y = t.leaf(Tensor::from_vector<double>({3, 4}, {2}), true);
  Var f = sum(t, mul(t, x, x));
  std::vector<Var> g = t.grad_graph(f, {x, y});
  EXPECT_EQ(t.value(g[1]).to_vector<double>(), (std::vector<double>{0, 0}));
  EXPECT_FALSE(t.requires_grad(g[1]));
}

TEST(TapeSecondOrder, OnlyPathsToWrtAreSwept) {
  // y's producer has no differentiable backward; asking only for x must not pass through it.
  Tape t(Stream::cpu());
  Var x = t.leaf(Tensor::from_vector<double>({1, 2}, {2}), true);
  Var w = t.leaf(Tensor::from_vector<double>({3, 4}, {2}), true);
  Tensor wv = t.value(w);
  Var wd = t.record("first_order_only", wv.clone(), {w},
                    [](BackwardCtx& c) {
                      GradSink g = c.sink(0);
                      if (g.beta == 0) g.t.copy_(c.grad_out());
                    },
                    {});
  Var f = sum(t, mul(t, x, wd));
  std::vector<Var> g = t.grad_graph(f, {x});
  EXPECT_EQ(t.value(g[0]).to_vector<double>(), (std::vector<double>{3, 4}));
  expect_error_mentioning([&] { t.grad_graph(f, {w}); }, "'first_order_only' has no differentiable backward");
  // The first-order sweep is fine with it.
  EXPECT_EQ(t.grad(f, {w})[0].to_vector<double>(), (std::vector<double>{1, 2}));
}

TEST(TapeSecondOrder, SeedVarIsDifferentiable) {
  Tape t(Stream::cpu());
  Var x = t.leaf(Tensor::from_vector<double>({1, 2}, {2}), true);
  Var u = t.leaf(Tensor::from_vector<double>({5, 7}, {2}), true);
  Var y = mul(t, x, x);  // non-scalar
  std::vector<Var> g = t.grad_graph(y, {x}, u);  // u * 2x
  EXPECT_EQ(t.value(g[0]).to_vector<double>(), (std::vector<double>{10, 28}));
  std::vector<Tensor> gu = t.grad(sum(t, g[0]), {u});
  EXPECT_EQ(gu[0].to_vector<double>(), (std::vector<double>{2, 4}));
}

TEST(TapeSecondOrder, BadInputIsRefusedByName) {
  Tape t(Stream::cpu()), other(Stream::cpu());
  Var x = t.leaf(Tensor::from_vector<double>({1, 2}, {2}), true);
  Var y = mul(t, x, x);
  expect_error_mentioning([&] { t.grad_graph(y, {x}); }, "is not a scalar; pass a seed");
  Var z = other.leaf(Tensor::from_vector<double>({1, 2}, {2}), true);
  expect_error_mentioning([&] { t.grad_graph(sum(t, y), {z}); }, "belongs to another tape");
  expect_error_mentioning([&] { mul(t, x, z); }, "belongs to another tape");
  expect_error_mentioning([&] { t.grad(sum(t, y), {z}); }, "belongs to another tape");
  Var stale = y;
  t.clear();
  t.leaf(Tensor::from_vector<double>({1, 2}, {2}), true);
  t.leaf(Tensor::from_vector<double>({1, 2}, {2}), true);
  expect_error_mentioning([&] { t.value(stale); }, "before clear()");
  expect_error_mentioning([&] { t.value(Var{}); }, "invalid");
}

TEST(TapeSecondOrder, RecordingIsRestoredAfterTheSweep) {
  Tape t(Stream::cpu());
  Var x = t.leaf(Tensor::from_vector<double>({1, 2}, {2}), true);
  Var f = sum(t, mul(t, x, x));
  t.set_recording(false);
  std::vector<Var> g = t.grad_graph(f, {x});  // f was recorded before the switch
  EXPECT_FALSE(t.recording());
  EXPECT_TRUE(t.requires_grad(g[0]));
}
