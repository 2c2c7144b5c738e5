// Elementwise ops on the CPU: StridedIter merging, activation and binary values against hand-computed
// numbers (broadcasting, strided views, large |x|), gradient checks in f64 for every op and several
// broadcast patterns, accumulation when one input is used twice, the kernels' alpha/beta, and bad input.
#include <cmath>

#include "kernels/elementwise.h"
#include "nn/ops_elementwise.h"
#include "nn/ops_scale.h"
#include "tests/elementwise_op_table.h"
#include "tests/test_util.h"

using namespace sp;
using namespace sp::ag;
using namespace sp::test;

SP_GRAD_TESTED(relu);
SP_GRAD_TESTED(leaky_relu);
SP_GRAD_TESTED(silu);
SP_GRAD_TESTED(sigmoid);
SP_GRAD_TESTED(tanh);
SP_GRAD_TESTED(add);
SP_GRAD_TESTED(sub);
SP_GRAD_TESTED(mul);
SP_GRAD_TESTED(div);

namespace {

Tensor eval(const UnaryOp& f, const Tensor& x) {
  Tape t(Stream::cpu());
  return t.value(f(t, t.leaf(x)));
}
Tensor eval(const BinOp& f, const Tensor& a, const Tensor& b) {
  Tape t(Stream::cpu());
  return t.value(f(t, t.leaf(a), t.leaf(b)));
}
// d sum(f(x)) / dx.
std::vector<double> grad_of_sum(const UnaryOp& f, const Tensor& x) {
  Tape t(Stream::cpu());
  Var v = t.leaf(x, true);
  Var y = f(t, v);
  Tensor seed = Tensor::full(t.value(y).shape(), 1.0, x.dtype());
  return as_doubles(t.grad(y, {v}, &seed)[0]);
}
void expect_values(const Tensor& got, const std::vector<double>& want, double tol = 1e-12) {
  auto g = as_doubles(got);
  ASSERT_EQ(g.size(), want.size());
  for (size_t i = 0; i < g.size(); ++i) EXPECT_NEAR(g[i], want[i], tol) << "element " << i;
}

const auto kActivations = activation_ops(0.2);
const auto kBinaries = binary_ops();

}  // namespace

TEST(StridedIter, MergesContiguousAndDropsUnitDims) {
  // Same-shape contiguous: one dim.
  auto it = make_strided_iter<1>({2, 3, 4}, {Shape{12, 4, 1}});
  EXPECT_EQ(it.n, 1);
  EXPECT_EQ(it.size[0], 24);
  // A per-channel bias [1, C, 1, 1] over [N, C, H, W] becomes [N, C, H*W].
  Tensor bias = Tensor::zeros({1, 3, 1, 1}, DType::f32);
  auto b = make_strided_iter<2>({2, 3, 4, 5}, {Shape{60, 20, 5, 1}, bias.expand({2, 3, 4, 5}).strides()});
  ASSERT_EQ(b.n, 3);
  EXPECT_EQ(b.size[0], 2);
  EXPECT_EQ(b.size[1], 3);
  EXPECT_EQ(b.size[2], 20);
  int64_t off[2];
  b.offsets(1 * 60 + 2 * 20 + 7, off);  // n=1, c=2, hw=7
  EXPECT_EQ(off[0], 107);
  EXPECT_EQ(off[1], 2);
  // A transposed view cannot merge.
  auto tr = make_strided_iter<1>({3, 2}, {Shape{1, 3}});
  EXPECT_EQ(tr.n, 2);
  int64_t off1[1];
  tr.offsets(1 * 2 + 1, off1);  // element [1, 1] at 1 * 1 + 1 * 3
  EXPECT_EQ(off1[0], 4);
  EXPECT_EQ(make_strided_iter<1>({1, 1}, {Shape{5, 7}}).n, 0);  // one element: offset 0
}

TEST(StridedIter, Int32NarrowingMatchesAndKnowsItsLimits) {
  Tensor bias = Tensor::zeros({1, 3, 1, 1}, DType::f32);
  Tensor x = Tensor::zeros({2, 5, 4, 3}, DType::f32).permute({0, 3, 2, 1});  // [2, 3, 4, 5], strided
  auto it = make_strided_iter<2>({2, 3, 4, 5}, {x.strides(), bias.expand({2, 3, 4, 5}).strides()});
  ASSERT_TRUE(it.fits_int32(120));
  auto narrow = it.narrow<int32_t>();
  for (int64_t i = 0; i < 120; ++i) {
    int64_t wide[2];
    int32_t small[2];
    it.offsets(i, wide);
    narrow.offsets(int32_t(i), small);
    EXPECT_EQ(wide[0], small[0]);
    EXPECT_EQ(wide[1], small[1]);
  }
  int64_t big = int64_t(1) << 31;
  EXPECT_FALSE(make_strided_iter<1>({3, big / 2}, {Shape{big / 2, 1}}).fits_int32(3 * big / 2));  // too many
  EXPECT_FALSE(make_strided_iter<1>({2, 2}, {Shape{big, 1}}).fits_int32(4));  // offsets overflow
  EXPECT_TRUE(make_strided_iter<1>({3}, {Shape{-1}}).fits_int32(3));
}

TEST(OpsElementwise, ActivationValues) {
  Tensor x = Tensor::from_vector<double>({-2.0, -0.5, 0.0, 0.5, 3.0}, {5});
  expect_values(eval(kActivations[0].second, x), {0, 0, 0, 0.5, 3});
  expect_values(eval(kActivations[1].second, x), {-0.4, -0.1, 0, 0.5, 3});
  expect_values(eval([](Tape& t, Var v) { return leaky_relu(t, v); }, x), {-0.02, -0.005, 0, 0.5, 3});
  auto sig = [](double v) { return 1.0 / (1.0 + std::exp(-v)); };
  std::vector<double> s, si, th;
  for (double v : {-2.0, -0.5, 0.0, 0.5, 3.0}) {
    s.push_back(sig(v));
    si.push_back(v * sig(v));
    th.push_back(std::tanh(v));
  }
  expect_values(eval(kActivations[2].second, x), si);
  expect_values(eval(kActivations[3].second, x), s);
  expect_values(eval(kActivations[4].second, x), th);
  EXPECT_NEAR(s[2], 0.5, 1e-15);
  EXPECT_NEAR(th[3], 0.46211715726000974, 1e-15);
}

TEST(OpsElementwise, SigmoidAndSiluStableForLargeInputs) {
  for (DType dt : {DType::f32, DType::f64}) {
    Tensor x = Tensor::from_vector<double>({-1000.0, -100.0, 100.0, 1000.0}, {4}).to(dt);
    expect_values(eval(kActivations[3].second, x), {0, std::exp(-100.0), 1, 1}, 1e-7);
    expect_values(eval(kActivations[2].second, x), {0, -100 * std::exp(-100.0), 100, 1000}, 1e-4);
    for (const auto& [name, f] : kActivations) {
      for (double g : grad_of_sum(f, x)) EXPECT_TRUE(std::isfinite(g)) << name << " " << dtype_name(dt);
    }
    auto gs = grad_of_sum(kActivations[2].second, x);  // silu' -> 0 on the left, 1 on the right
    EXPECT_NEAR(gs[0], 0.0, 1e-12);
    EXPECT_NEAR(gs[3], 1.0, 1e-12);
    auto gsig = grad_of_sum(kActivations[3].second, x);
    EXPECT_NEAR(gsig[0], 0.0, 1e-12);
    EXPECT_NEAR(gsig[3], 0.0, 1e-12);
  }
}

TEST(OpsElementwise, ActivationOnStridedInput) {
  Tensor base = randn({4, 6}, DType::f64, 5);
  Tensor view = base.transpose(0, 1).slice(0, 1, 6, 2);  // [3, 4], strides (2, 6)
  ASSERT_FALSE(view.is_contiguous());
  for (const auto& [name, f] : kActivations) {
    EXPECT_TRUE(all_close(eval(f, view), eval(f, view.contiguous()), 0, 0)) << name;
    EXPECT_EQ(grad_of_sum(f, view), grad_of_sum(f, view.contiguous())) << name;
  }
}

TEST(OpsElementwise, ActivationGradients) {
  for (const auto& [name, f] : kActivations) {
    SCOPED_TRACE(name);
    for (Shape s : {Shape{7}, Shape{3, 5}, Shape{2, 3, 4}}) {
      check_gradients({randn(s, DType::f64, 11, 2.0)}, {true},
                      [&f](Tape& t, const std::vector<Var>& v) { return f(t, v[0]); });
    }
  }
}

TEST(OpsElementwise, BinaryValues) {
  Tensor a = Tensor::from_vector<double>({1, 2, 3, 4}, {2, 2});
  Tensor b = Tensor::from_vector<double>({10, 20}, {2});  // broadcast over rows
  expect_values(eval(kBinaries[0].second, a, b), {11, 22, 13, 24});
  expect_values(eval(kBinaries[1].second, a, b), {-9, -18, -7, -16});
  expect_values(eval(kBinaries[2].second, a, b), {10, 40, 30, 80});
  expect_values(eval(kBinaries[3].second, a, b), {0.1, 0.1, 0.3, 0.2});
  Tensor col = Tensor::from_vector<double>({2, 4}, {2, 1});  // broadcast over columns
  expect_values(eval(kBinaries[3].second, a, col), {0.5, 1, 0.75, 1});
  Tensor scalar = Tensor::full({}, 3.0, DType::f64);
  expect_values(eval(kBinaries[1].second, scalar, a), {2, 1, 0, -1});
}

TEST(OpsElementwise, BinaryBroadcastsBothSides) {
  // [3, 1, 4] + [2, 1] -> [3, 2, 4]: out[i, j, k] = a[i, 0, k] + b[j, 0].
  std::vector<double> av(12), bv = {100, 200};
  for (int i = 0; i < 12; ++i) av[i] = i;
  Tensor y = eval(kBinaries[0].second, Tensor::from_vector(av, {3, 1, 4}), Tensor::from_vector(bv, {2, 1}));
  ASSERT_EQ(y.shape(), Shape({3, 2, 4}));
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 2; ++j)
      for (int k = 0; k < 4; ++k) EXPECT_EQ(y.item({i, j, k}), av[i * 4 + k] + bv[j]);
  // Zero-sized broadcast: [0, 3] * [3] is [0, 3].
  Tensor z = eval(kBinaries[2].second, Tensor::zeros({0, 3}, DType::f32), Tensor::zeros({3}, DType::f32));
  EXPECT_EQ(z.shape(), Shape({0, 3}));
}

TEST(OpsElementwise, BinaryOnStridedInputs) {
  Tensor base = randn({5, 8}, DType::f64, 2);
  Tensor a = base.transpose(0, 1);                                   // [8, 5]
  Tensor b = randn({5, 4}, DType::f64, 3, 1.0, 3.0).slice(1, 0, 4, 4);  // [5, 1], stride 4
  Tensor c = randn({10}, DType::f64, 4, 1.0, 3.0).slice(0, 0, 10, 2);    // [5], stride 2
  for (const auto& [name, f] : kBinaries) {
    EXPECT_TRUE(all_close(eval(f, a, c), eval(f, a.contiguous(), c.contiguous()), 0, 0)) << name;
    EXPECT_TRUE(all_close(eval(f, b, a.slice(0, 0, 1)), eval(f, b.contiguous(), a.slice(0, 0, 1).contiguous()), 0, 0))
        << name;
  }
}

TEST(OpsElementwise, BinaryGradients) {
  // Pairs of shapes: same, one side broadcast, both sides broadcast, scalar, strided.
  std::vector<std::pair<Shape, Shape>> cases = {{{3, 4}, {3, 4}},       {{3, 1, 4}, {2, 1}}, {{4}, {2, 3, 4}},
                                                {{}, {2, 3}},           {{2, 1, 3}, {1, 4, 1}},
                                                {{2, 3, 4}, {1, 3, 1}}, {{5}, {5}}};
  for (const auto& [name, f] : kBinaries) {
    SCOPED_TRACE(name);
    uint64_t seed = 20;
    for (const auto& [sa, sb] : cases) {
      SCOPED_TRACE(sa.str() + " op " + sb.str());
      Tensor a = randn(sa, DType::f64, ++seed);
      Tensor b = std::string(name) == "div" ? rand_uniform(sb, DType::f64, ++seed, 0.5, 2.0)
                                            : randn(sb, DType::f64, ++seed);
      for (std::vector<bool> wrt : {std::vector<bool>{true, true}, {true, false}, {false, true}})
        check_gradients({a, b}, wrt, [&f](Tape& t, const std::vector<Var>& v) { return f(t, v[0], v[1]); });
    }
    Tensor strided = randn({4, 6}, DType::f64, 99).transpose(0, 1);
    check_gradients({strided, rand_uniform({4}, DType::f64, 98, 0.5, 2.0)}, {true, true},
                    [&f](Tape& t, const std::vector<Var>& v) { return f(t, v[0], v[1]); });
  }
}

TEST(OpsElementwise, InputUsedTwiceAccumulates) {
  // y = x + x * x: dy/dx = 1 + 2x, written by two backward nodes (the second with beta = 1).
  Tape t(Stream::cpu());
  Var x = t.leaf(Tensor::from_vector<double>({1, -2, 0.5}, {3}), true);
  Var y = add(t, x, mul(t, x, x));
  Tensor seed = Tensor::full({3}, 1.0, DType::f64);
  EXPECT_EQ(as_doubles(t.grad(y, {x}, &seed)[0]), (std::vector<double>{3, -3, 2}));
  // x + x and x * x inside one node: both sinks of the node are x.
  Var z = mul(t, add(t, x, x), x);  // 2 x^2 -> 4x
  EXPECT_EQ(as_doubles(t.grad(z, {x}, &seed)[0]), (std::vector<double>{4, -8, 2}));
  // Through a broadcast: x [3] reaches w * x [2, 3] and + x; the second write folds with beta = 1.
  Var w = t.leaf(Tensor::from_vector<double>({1, 2, 3, 4, 5, 6}, {2, 3}));
  Var u = add(t, mul(t, w, x), x);
  Tensor seed2 = Tensor::full({2, 3}, 1.0, DType::f64);
  EXPECT_EQ(as_doubles(t.grad(u, {x}, &seed2)[0]), (std::vector<double>{1 + 4 + 2, 2 + 5 + 2, 3 + 6 + 2}));
  check_gradients({randn({2, 3}, DType::f64, 7)}, {true}, [](Tape& tp, const std::vector<Var>& v) {
    return ag::div(tp, add(tp, v[0], mul(tp, v[0], v[0])), add(tp, scale(tp, mul(tp, v[0], v[0]), 1.0), v[0]));
  });
}

TEST(OpsElementwise, KernelAlphaBeta) {
  Stream& s = Stream::cpu();
  Tensor out = Tensor::from_vector<double>({1, 1, 1, 1}, {2, 2});
  binary(s, out, Tensor::from_vector<double>({1, 2, 3, 4}, {2, 2}), Tensor::from_vector<double>({2}, {1}),
         BinaryOp::mul, -0.5, 2.0);
  expect_values(out, {1, 0, -1, -2});
  Tensor gx = Tensor::from_vector<double>({5, 5}, {2});
  activation_backward(s, gx, Tensor::from_vector<double>({1, 1}, {2}), Tensor::from_vector<double>({-1, 1}, {2}),
                      Act::relu, 0.0, 1.0);
  expect_values(gx, {5, 6});
}

TEST(OpsElementwise, BadInput) {
  Tape t(Stream::cpu());
  Var a = t.leaf(Tensor::zeros({3, 4}, DType::f32));
  Var b = t.leaf(Tensor::zeros({2, 4}, DType::f32));
  Var c = t.leaf(Tensor::zeros({3, 4}, DType::f64));
  Var i = t.leaf(Tensor::zeros({3, 4}, DType::i32));
  std::string msg = error_of([&] { add(t, a, b); });
  EXPECT_NE(msg.find("add"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[3, 4]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[2, 4]"), std::string::npos) << msg;
  msg = error_of([&] { mul(t, a, c); });
  EXPECT_NE(msg.find("mul: dtypes differ"), std::string::npos) << msg;
  msg = error_of([&] { relu(t, i); });
  EXPECT_NE(msg.find("relu"), std::string::npos) << msg;
  EXPECT_NE(msg.find("I32[3, 4]"), std::string::npos) << msg;
  EXPECT_THROW(ag::div(t, i, i), Error);
  // Kernel level: wrong output shape, non-contiguous output.
  Stream& s = Stream::cpu();
  EXPECT_THROW(binary(s, Tensor::empty({4, 3}, DType::f32), t.value(a), t.value(a), BinaryOp::add), Error);
  EXPECT_THROW(activation(s, Tensor::empty({4, 3}, DType::f32).transpose(0, 1), t.value(a), Act::tanh), Error);
  EXPECT_THROW(activation_backward(s, Tensor::empty({3, 4}, DType::f32), Tensor::empty({3, 4}, DType::f32),
                                   Tensor::empty({4, 3}, DType::f32), Act::silu, 0, 0),
               Error);
}
