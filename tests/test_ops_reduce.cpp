// Reductions on the CPU: geometry merging, sum/mean/max values against hand-computed numbers (axes lists,
// negative axes, keepdim, full reductions, ties and NaN for max, strided inputs, empty dims), the
// sum_to_shape kernel with alpha/beta, gradient checks in f64, and bad input.
#include <cmath>

#include "kernels/reduce.h"
#include "nn/ops_reduce.h"
#include "tests/test_util.h"

using namespace sp;
using namespace sp::ag;
using namespace sp::test;

SP_GRAD_TESTED(sum);
SP_GRAD_TESTED(mean);
SP_GRAD_TESTED(max);

namespace {

using Reduce = std::function<Var(Tape&, Var)>;

Tensor eval(const Reduce& f, const Tensor& x) {
  Tape t(Stream::cpu());
  return t.value(f(t, t.leaf(x)));
}
std::vector<double> grad_with_seed(const Reduce& f, const Tensor& x, double seed_value = 1.0) {
  Tape t(Stream::cpu());
  Var v = t.leaf(x, true);
  Var y = f(t, v);
  Tensor seed = Tensor::full(t.value(y).shape(), seed_value, x.dtype());
  return as_doubles(t.grad(y, {v}, &seed)[0]);
}

}  // namespace

TEST(ReduceGeom, MergesDimsAndPicksLayout) {
  Tensor x = Tensor::zeros({2, 3, 4, 5}, DType::f32);
  ReduceGeom g = make_reduce_geom(x, {1, 1, 4, 5});  // leading dims reduced: one reduced dim of 6
  EXPECT_EQ(g.outer, 20);
  EXPECT_EQ(g.inner, 6);
  EXPECT_EQ(g.red.n, 1);
  EXPECT_EQ(g.kept.n, 1);
  EXPECT_FALSE(g.inner_reduced);
  ReduceGeom c = make_reduce_geom(x, {1, 3, 1, 1});  // per-channel over NCHW
  EXPECT_EQ(c.outer, 3);
  EXPECT_EQ(c.inner, 40);
  EXPECT_EQ(c.red.n, 2);  // N and H*W
  EXPECT_TRUE(c.inner_reduced);
  EXPECT_EQ(index_offset(c.red, 25), 60 + 5);  // r = 25 -> n = 1, hw = 5
  EXPECT_EQ(index_offset(c.kept, 2), 40);
  ReduceGeom t = make_reduce_geom(x.transpose(2, 3), {2, 3, 1, 4});  // [2, 3, 5, 4]: reduced dim has stride 1
  EXPECT_TRUE(t.inner_reduced);
  EXPECT_EQ(t.red.stride[0], 1);
  EXPECT_EQ(t.red_l.stride[0], 4);  // the logical index follows the transposed view's row-major order
}

TEST(OpsReduce, SumMeanMaxValues) {
  Tensor x = Tensor::from_vector<double>({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor s0 = eval([](Tape& t, Var v) { return sum(t, v, {0}); }, x);
  EXPECT_EQ(s0.shape(), Shape({3}));
  EXPECT_EQ(as_doubles(s0), (std::vector<double>{5, 7, 9}));
  Tensor s1 = eval([](Tape& t, Var v) { return sum(t, v, {-1}, true); }, x);
  EXPECT_EQ(s1.shape(), Shape({2, 1}));
  EXPECT_EQ(as_doubles(s1), (std::vector<double>{6, 15}));
  Tensor all = eval([](Tape& t, Var v) { return sum(t, v); }, x);
  EXPECT_EQ(all.shape(), Shape({}));
  EXPECT_EQ(all.item(), 21.0);
  EXPECT_EQ(eval([](Tape& t, Var v) { return sum(t, v, {0, 1}); }, x).item(), 21.0);
  EXPECT_EQ(as_doubles(eval([](Tape& t, Var v) { return mean(t, v, {1}); }, x)), (std::vector<double>{2, 5}));
  EXPECT_EQ(eval([](Tape& t, Var v) { return mean(t, v); }, x).item(), 3.5);
  EXPECT_EQ(as_doubles(eval([](Tape& t, Var v) { return max(t, v, {0}); }, x)), (std::vector<double>{4, 5, 6}));
  Tensor m = eval([](Tape& t, Var v) { return max(t, v, {1}, true); }, x.to(DType::f32));
  EXPECT_EQ(m.shape(), Shape({2, 1}));
  EXPECT_EQ(m.to_vector<float>(), (std::vector<float>{3, 6}));
  EXPECT_EQ(eval([](Tape& t, Var v) { return max(t, v); }, x).item(), 6.0);
}

TEST(OpsReduce, SeveralAxesOf4D) {
  Tensor x = randn({2, 3, 4, 5}, DType::f64, 3);
  Tensor y = eval([](Tape& t, Var v) { return sum(t, v, {0, 2}); }, x);
  Tensor m = eval([](Tape& t, Var v) { return max(t, v, {3, 1}, true); }, x);
  ASSERT_EQ(y.shape(), Shape({3, 5}));
  ASSERT_EQ(m.shape(), Shape({2, 1, 4, 1}));
  for (int c = 0; c < 3; ++c)
    for (int w = 0; w < 5; ++w) {
      double acc = 0;
      for (int n = 0; n < 2; ++n)
        for (int h = 0; h < 4; ++h) acc += x.item({n, c, h, w});
      EXPECT_NEAR(y.item({c, w}), acc, 1e-12);
    }
  for (int n = 0; n < 2; ++n)
    for (int h = 0; h < 4; ++h) {
      double best = -INFINITY;
      for (int c = 0; c < 3; ++c)
        for (int w = 0; w < 5; ++w) best = std::max(best, x.item({n, c, h, w}));
      EXPECT_EQ(m.item({n, 0, h, 0}), best);
    }
}

TEST(OpsReduce, MaxTiesGoToFirstIndexAndNaNWins) {
  Tensor x = Tensor::from_vector<double>({3, 1, 3, 0, 2, 2}, {2, 3});
  Reduce rows = [](Tape& t, Var v) { return max(t, v, {1}); };
  EXPECT_EQ(as_doubles(eval(rows, x)), (std::vector<double>{3, 2}));
  EXPECT_EQ(grad_with_seed(rows, x), (std::vector<double>{1, 0, 0, 0, 1, 0}));
  Reduce cols = [](Tape& t, Var v) { return max(t, v, {0}); };
  Tensor y = Tensor::from_vector<double>({5, 1, 7, 5, 1, 7}, {2, 3});
  EXPECT_EQ(grad_with_seed(cols, y, 2.0), (std::vector<double>{2, 2, 2, 0, 0, 0}));
  Reduce all = [](Tape& t, Var v) { return max(t, v); };
  EXPECT_EQ(grad_with_seed(all, Tensor::from_vector<double>({1, 9, 9, 9}, {2, 2})),
            (std::vector<double>{0, 1, 0, 0}));
  Tensor n = Tensor::from_vector<double>({1, NAN, 5, NAN}, {4});
  EXPECT_TRUE(std::isnan(eval(all, n).item()));
  EXPECT_EQ(grad_with_seed(all, n), (std::vector<double>{0, 1, 0, 0}));
  // Ties in a transposed view: "first" is in the view's row-major order.
  Tensor base = Tensor::from_vector<double>({4, 4, 1, 1}, {2, 2});  // view [[4, 1], [4, 1]]
  EXPECT_EQ(grad_with_seed(all, base.transpose(0, 1)), (std::vector<double>{1, 0, 0, 0}));
}

TEST(OpsReduce, StridedInputs) {
  Tensor base = randn({6, 8}, DType::f64, 9);
  Tensor view = base.transpose(0, 1).slice(0, 1, 8, 2);  // [4, 6]
  ASSERT_FALSE(view.is_contiguous());
  std::vector<Reduce> fs = {[](Tape& t, Var v) { return sum(t, v, {0}); },
                            [](Tape& t, Var v) { return mean(t, v, {1}); },
                            [](Tape& t, Var v) { return max(t, v, {0}); },
                            [](Tape& t, Var v) { return max(t, v, {1}, true); },
                            [](Tape& t, Var v) { return sum(t, v); }};
  for (const Reduce& f : fs) {
    EXPECT_TRUE(all_close(eval(f, view), eval(f, view.contiguous()), 1e-14, 1e-14));
    EXPECT_EQ(grad_with_seed(f, view), grad_with_seed(f, view.contiguous()));
  }
  Tensor expanded = Tensor::from_vector<double>({1, 2, 3}, {3}).expand({4, 3});  // stride 0 rows
  EXPECT_EQ(as_doubles(eval(fs[0], expanded)), (std::vector<double>{4, 8, 12}));
}

TEST(OpsReduce, EmptyDims) {
  Tensor e = Tensor::zeros({2, 0}, DType::f64);
  EXPECT_EQ(as_doubles(eval([](Tape& t, Var v) { return sum(t, v, {1}); }, e)), (std::vector<double>{0, 0}));
  EXPECT_EQ(eval([](Tape& t, Var v) { return sum(t, v, {0}); }, e).shape(), Shape({0}));
  EXPECT_EQ(eval([](Tape& t, Var v) { return max(t, v, {0}); }, e).shape(), Shape({0}));
  EXPECT_THROW(eval([](Tape& t, Var v) { return max(t, v, {1}); }, e), Error);
  EXPECT_THROW(eval([](Tape& t, Var v) { return mean(t, v); }, e), Error);
}

TEST(OpsReduce, SumToShapeKernel) {
  Stream& s = Stream::cpu();
  Tensor x = randn({2, 3, 4}, DType::f64, 4);
  Tensor out = Tensor::full({3, 1}, 10.0, DType::f64);  // right-aligned: [1, 3, 1]
  sum_to_shape(s, out, x, 0.5, -1.0);
  for (int c = 0; c < 3; ++c) {
    double acc = 0;
    for (int n = 0; n < 2; ++n)
      for (int w = 0; w < 4; ++w) acc += x.item({n, c, w});
    EXPECT_NEAR(out.item({c, 0}), 0.5 * acc - 10.0, 1e-12);
  }
  Tensor same = Tensor::empty({2, 3, 4}, DType::f64);  // nothing reduced: a copy
  sum_to_shape(s, same, x.transpose(0, 1).contiguous().transpose(0, 1));
  EXPECT_TRUE(all_close(same, x, 0, 0));
  Tensor z = Tensor::full({3}, 7.0, DType::f64);
  sum_to_shape(s, z, Tensor::zeros({0, 3}, DType::f64), 1.0, 2.0);  // empty sum: beta * out
  EXPECT_EQ(z.to_vector<double>(), (std::vector<double>{14, 14, 14}));
}

TEST(OpsReduce, Gradients) {
  struct Case {
    Shape shape;
    std::vector<int> axes;  // empty: full reduction
    bool keepdim;
  };
  std::vector<Case> cases = {{{5}, {0}, false},          {{3, 4}, {0}, false},  {{3, 4}, {1}, true},
                             {{2, 3, 4}, {0, 2}, false}, {{2, 3, 4}, {-1, 1}, true},
                             {{2, 3, 4, 5}, {1, 3}, false}, {{2, 3, 4}, {}, false}, {{}, {}, false}};
  for (const Case& c : cases) {
    SCOPED_TRACE(c.shape.str());
    Tensor x = randn(c.shape, DType::f64, 31);
    for (int kind = 0; kind < 3; ++kind) {
      check_gradients({x}, {true}, [&](Tape& t, const std::vector<Var>& v) {
        if (c.axes.empty()) return kind == 0 ? sum(t, v[0]) : kind == 1 ? mean(t, v[0]) : max(t, v[0]);
        return kind == 0   ? sum(t, v[0], c.axes, c.keepdim)
               : kind == 1 ? mean(t, v[0], c.axes, c.keepdim)
                           : max(t, v[0], c.axes, c.keepdim);
      });
    }
  }
  Tensor strided = randn({5, 4}, DType::f64, 8).transpose(0, 1);
  check_gradients({strided}, {true}, [](Tape& t, const std::vector<Var>& v) { return max(t, v[0], {1}); });
  check_gradients({strided}, {true}, [](Tape& t, const std::vector<Var>& v) { return mean(t, v[0], {0}); });
}

TEST(OpsReduce, BadInput) {
  Tape t(Stream::cpu());
  Var x = t.leaf(Tensor::zeros({2, 3}, DType::f32));
  std::string msg = error_of([&] { sum(t, x, {2}); });
  EXPECT_NE(msg.find("sum"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[2, 3]"), std::string::npos) << msg;
  msg = error_of([&] { mean(t, x, {1, -1}); });
  EXPECT_NE(msg.find("mean: axis -1 repeated for [2, 3]"), std::string::npos) << msg;
  msg = error_of([&] { max(t, x, {}); });
  EXPECT_NE(msg.find("max: empty axis list"), std::string::npos) << msg;
  msg = error_of([&] { max(t, t.leaf(Tensor::zeros({2, 3}, DType::i64))); });
  EXPECT_NE(msg.find("max"), std::string::npos) << msg;
  EXPECT_NE(msg.find("I64[2, 3]"), std::string::npos) << msg;
  Stream& s = Stream::cpu();
  msg = error_of([&] { sum_to_shape(s, Tensor::empty({4}, DType::f32), t.value(x)); });
  EXPECT_NE(msg.find("cannot reduce [2, 3] to [4]"), std::string::npos) << msg;
  EXPECT_THROW(sum_to_shape(s, Tensor::empty({3}, DType::f64), t.value(x)), Error);  // dtype mismatch
  EXPECT_THROW(reduce_max(s, Tensor::empty({3}, DType::f32), Tensor::empty({3}, DType::i32), t.value(x)), Error);
  EXPECT_THROW(reduce_backward(s, Tensor::empty({2, 3}, DType::f32), Tensor::empty({2, 2}, DType::f32), Tensor(),
                               1, 0),
               Error);
}
