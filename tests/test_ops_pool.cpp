// max_pool2d, avg_pool2d and global_avg_pool: values against direct loops written here (several windows,
// padding, non-square), hand-computed count_include_pad and tie cases, beta accumulation, gradient checks
// in f64, bad input.
#include <cmath>
#include <limits>

#include "kernels/pool.h"
#include "nn/ops_conv.h"
#include "tests/test_util.h"

using namespace sp;
using namespace sp::ag;
using namespace sp::test;

SP_GRAD_TESTED(max_pool2d);
SP_GRAD_TESTED(avg_pool2d);
SP_GRAD_TESTED(global_avg_pool);

namespace {

struct Case {
  const char* name;
  Shape x;
  Pool2dOptions o;
};
const Case kCases[] = {
    {"2x2 stride 2", {2, 3, 6, 6}, {.kernel = 2}},
    {"3x3 stride 2 pad 1", {1, 2, 7, 7}, {.kernel = 3, .stride = 2, .padding = 1}},
    {"3x3 stride 1 pad 1", {2, 2, 5, 5}, {.kernel = 3, .stride = 1, .padding = 1}},
    {"non-square", {1, 3, 5, 8}, {.kernel = {3, 2}, .stride = {1, 2}, .padding = {1, 0}}},
};

// Direct pooling in double: max (PyTorch semantics, windows clipped to the input) or mean over kh*kw.
std::vector<double> naive_pool(const Tensor& x, const Pool2dOptions& o, bool max) {
  auto xv = as_doubles(x);
  int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  int64_t sh = o.stride.h ? o.stride.h : o.kernel.h, sw = o.stride.w ? o.stride.w : o.kernel.w;
  int64_t oh = (h + 2 * o.padding.h - o.kernel.h) / sh + 1, ow = (w + 2 * o.padding.w - o.kernel.w) / sw + 1;
  std::vector<double> y;
  for (int64_t p = 0; p < n * c; ++p)
    for (int64_t i = 0; i < oh; ++i)
      for (int64_t j = 0; j < ow; ++j) {
        double acc = max ? -INFINITY : 0.0;
        for (int64_t a = 0; a < o.kernel.h; ++a)
          for (int64_t b = 0; b < o.kernel.w; ++b) {
            int64_t ih = i * sh - o.padding.h + a, iw = j * sw - o.padding.w + b;
            if (ih < 0 || ih >= h || iw < 0 || iw >= w) continue;
            double v = xv[size_t((p * h + ih) * w + iw)];
            acc = max ? std::max(acc, v) : acc + v;
          }
        y.push_back(max ? acc : acc / double(o.kernel.h * o.kernel.w));
      }
  return y;
}

void expect_values(const Tensor& got, const std::vector<double>& want, double tol, const char* name) {
  auto g = as_doubles(got);
  ASSERT_EQ(g.size(), want.size()) << name;
  for (size_t i = 0; i < g.size(); ++i) EXPECT_NEAR(g[i], want[i], tol) << name << " [" << i << "]";
}

}  // namespace

TEST(OpsPool, ForwardMatchesDirectLoops) {
  for (const Case& k : kCases)
    for (DType dt : {DType::f64, DType::f32}) {
      Tensor x = randn(k.x, dt, 1);
      Tape t(Stream::cpu());
      expect_values(t.value(max_pool2d(t, t.leaf(x), k.o)), naive_pool(x, k.o, true), 1e-6, k.name);
      expect_values(t.value(avg_pool2d(t, t.leaf(x), k.o)), naive_pool(x, k.o, false), 1e-6, k.name);
    }
}

TEST(OpsPool, AvgCountsPaddingAsZeros) {
  // 2x2 ones, 3x3 window, padding 1: every window holds the 4 ones and 5 padded zeros -> 4/9.
  Tape t(Stream::cpu());
  Var y = avg_pool2d(t, t.leaf(Tensor::full({1, 1, 2, 2}, 1.0, DType::f64)), {.kernel = 3, .stride = 1, .padding = 1});
  expect_values(t.value(y), std::vector<double>(4, 4.0 / 9.0), 1e-15, "count_include_pad");
}

TEST(OpsPool, MaxRoutesGradientToFirstMaximumOnTies) {
  // All equal: each 2x2 window (stride 1, overlapping) sends its gradient to its top-left element.
  Tape t(Stream::cpu());
  Var x = t.leaf(Tensor::full({1, 1, 3, 3}, 2.0, DType::f64), true);
  Var y = max_pool2d(t, x, {.kernel = 2, .stride = 1});
  Tensor seed = Tensor::from_vector<double>({1, 10, 100, 1000}, {1, 1, 2, 2});
  auto g = t.grad(y, {x}, &seed)[0].to_vector<double>();
  EXPECT_EQ(g, (std::vector<double>{1, 10, 0, 100, 1000, 0, 0, 0, 0}));
  // A strict maximum shared by overlapping windows collects both gradients.
  Tape u(Stream::cpu());
  Var x2 = u.leaf(Tensor::from_vector<double>({0, 0, 0, 0, 9, 0, 0, 0, 0}, {1, 1, 3, 3}), true);
  auto g2 = u.grad(max_pool2d(u, x2, {.kernel = 2, .stride = 1}), {x2}, &seed)[0].to_vector<double>();
  EXPECT_EQ(g2, (std::vector<double>{0, 0, 0, 0, 1111, 0, 0, 0, 0}));
}

TEST(OpsPool, MaxPropagatesNan) {
  Tape t(Stream::cpu());
  double nan = std::numeric_limits<double>::quiet_NaN();
  Var y = max_pool2d(t, t.leaf(Tensor::from_vector<double>({1, nan, 3, 4}, {1, 1, 2, 2})), {.kernel = 2});
  EXPECT_TRUE(std::isnan(t.value(y).item({0, 0, 0, 0})));
}

TEST(OpsPool, GlobalAvgPoolForward) {
  Tensor x = randn({2, 3, 4, 5}, DType::f64, 2);
  Tape t(Stream::cpu());
  Var y = global_avg_pool(t, t.leaf(x));
  ASSERT_EQ(t.value(y).shape(), (Shape{2, 3}));
  auto xv = as_doubles(x);
  std::vector<double> want;
  for (int p = 0; p < 6; ++p) {
    double s = 0;
    for (int i = 0; i < 20; ++i) s += xv[size_t(p * 20 + i)];
    want.push_back(s / 20);
  }
  expect_values(t.value(y), want, 1e-14, "global_avg_pool");
}

TEST(OpsPool, BackwardKernelsAccumulateWithBeta) {
  Tensor x = randn({1, 2, 4, 4}, DType::f64, 3);
  Pool2dGeom g = pool2d_geometry("test", x, 2, 2, 0);
  Tensor y = Tensor::empty({1, 2, 2, 2}, DType::f64), arg = Tensor::empty(y.shape(), DType::i32);
  max_pool2d_forward(Stream::cpu(), y, arg, x, g);
  Tensor gy = randn(y.shape(), DType::f64, 4);
  auto run = [&](auto&& bwd, double beta) {
    Tensor d = Tensor::full(x.shape(), 3.0, DType::f64);
    bwd(d, beta);
    return d.to_vector<double>();
  };
  auto max0 = run([&](Tensor& d, double b) { max_pool2d_backward(Stream::cpu(), d, gy, arg, g, b); }, 0.0);
  auto max1 = run([&](Tensor& d, double b) { max_pool2d_backward(Stream::cpu(), d, gy, arg, g, b); }, 0.5);
  auto avg0 = run([&](Tensor& d, double b) { avg_pool2d_backward(Stream::cpu(), d, gy, g, b); }, 0.0);
  auto avg1 = run([&](Tensor& d, double b) { avg_pool2d_backward(Stream::cpu(), d, gy, g, b); }, 1.0);
  Tensor gy2 = randn({1, 2}, DType::f64, 5);
  auto gap0 = run([&](Tensor& d, double b) { global_avg_pool_backward(Stream::cpu(), d, gy2, b); }, 0.0);
  auto gap1 = run([&](Tensor& d, double b) { global_avg_pool_backward(Stream::cpu(), d, gy2, b); }, 2.0);
  for (size_t i = 0; i < max0.size(); ++i) {
    EXPECT_DOUBLE_EQ(max1[i], max0[i] + 1.5);
    EXPECT_DOUBLE_EQ(avg1[i], avg0[i] + 3.0);
    EXPECT_DOUBLE_EQ(gap1[i], gap0[i] + 6.0);
    EXPECT_DOUBLE_EQ(avg0[i], gy.item({0, int64_t(i / 16), int64_t(i % 16 / 8), int64_t(i % 4 / 2)}) / 4);
  }
}

TEST(OpsPool, TiledAverageBackwardEqualsTheGeneralRule) {
  // kernel == stride, no padding, sizes the windows do not divide (the last row and column lie in no window):
  // the CPU fast path gives exactly avg_pool_grad_at's values.
  for (int64_t k : {2, 3}) {
    Tensor x = randn({2, 3, 7, 8}, DType::f64, 8);
    Pool2dGeom g = pool2d_geometry("test", x, k, k, 0);
    Tensor gy = randn({2, 3, g.oh, g.ow}, DType::f64, 9), d = Tensor::full(x.shape(), 5.0, DType::f64);
    avg_pool2d_backward(Stream::cpu(), d, gy, g, 0.0);
    std::vector<double> got = d.to_vector<double>(), gyv = gy.to_vector<double>();
    for (int64_t p = 0; p < 6; ++p)
      for (int64_t ih = 0; ih < 7; ++ih)
        for (int64_t iw = 0; iw < 8; ++iw)
          EXPECT_EQ(got[size_t((p * 7 + ih) * 8 + iw)], avg_pool_grad_at(gyv.data() + p * g.oh * g.ow, g, ih, iw))
              << k << " " << p << " " << ih << " " << iw;
  }
}

TEST(OpsPool, Gradient) {
  for (const Case& k : kCases) {
    SCOPED_TRACE(k.name);
    Pool2dOptions o = k.o;
    Tensor x = randn(k.x, DType::f64, 6);
    check_gradients({x}, {true}, [o](Tape& t, const std::vector<Var>& v) { return max_pool2d(t, v[0], o); });
    check_gradients({x}, {true}, [o](Tape& t, const std::vector<Var>& v) { return avg_pool2d(t, v[0], o); });
  }
  check_gradients({randn({2, 3, 3, 4}, DType::f64, 7)}, {true},
                  [](Tape& t, const std::vector<Var>& v) { return global_avg_pool(t, v[0]); });
}

TEST(OpsPool, BadInputThrowsNamingOpAndShapes) {
  Tape t(Stream::cpu());
  Var x = t.leaf(Tensor::zeros({1, 2, 4, 4}, DType::f64));
  std::string m = error_of([&] { max_pool2d(t, x, {.kernel = 2, .padding = 2}); });
  EXPECT_NE(m.find("max_pool2d"), std::string::npos) << m;
  EXPECT_NE(m.find("[1, 2, 4, 4]"), std::string::npos) << m;
  m = error_of([&] { avg_pool2d(t, x, {.kernel = 5}); });
  EXPECT_NE(m.find("avg_pool2d"), std::string::npos) << m;
  EXPECT_NE(m.find("larger than the padded input"), std::string::npos) << m;
  m = error_of([&] { global_avg_pool(t, t.leaf(Tensor::zeros({2, 4, 4}, DType::f64))); });
  EXPECT_NE(m.find("global_avg_pool"), std::string::npos) << m;
  EXPECT_NE(m.find("[2, 4, 4]"), std::string::npos) << m;
  EXPECT_THROW(max_pool2d(t, t.leaf(Tensor::zeros({1, 1, 4, 4}, DType::i32)), {.kernel = 2}), Error);
  EXPECT_THROW(avg_pool2d(t, x, {.kernel = 2, .stride = -1}), Error);
  EXPECT_THROW(max_pool2d(t, x, {.kernel = 0}), Error);
}
