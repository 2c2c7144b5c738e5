// conv2d: forward and both backward kernels against direct loops written here, over several geometries
// (3x3 stride 1/2, 1x1 stride 2, 5x5, groups 2, depthwise, dilation 2, non-square, multi-chunk batches),
// beta accumulation, gradient checks in f64 for input, weight and bias, and bad input.
#include <cmath>
#include <limits>

#include "kernels/conv.h"
#include "nn/ops_conv.h"
#include "tests/test_util.h"

using namespace sp;
using namespace sp::ag;
using namespace sp::test;

SP_GRAD_TESTED(conv2d);

namespace {

struct Case {
  const char* name;
  int64_t n, c, h, w, o, kh, kw;
  Conv2dParams p;
};

const Case kCases[] = {
    {"3x3 pad 1 stride 1", 2, 3, 6, 6, 4, 3, 3, {.stride = 1, .padding = 1}},
    {"3x3 pad 1 stride 2", 2, 3, 7, 7, 4, 3, 3, {.stride = 2, .padding = 1}},
    {"1x1 stride 2", 3, 4, 6, 6, 5, 1, 1, {.stride = 2}},
    {"5x5 pad 2", 1, 2, 7, 8, 3, 5, 5, {.padding = 2}},
    {"groups 2", 2, 4, 5, 5, 6, 3, 3, {.padding = 1, .groups = 2}},
    {"depthwise", 2, 4, 5, 5, 4, 3, 3, {.stride = 2, .padding = 1, .groups = 4}},
    {"dilation 2", 1, 2, 9, 9, 3, 3, 3, {.padding = 2, .dilation = 2}},
    {"non-square", 2, 3, 5, 8, 2, 3, 2, {.stride = {2, 1}, .padding = {1, 0}, .dilation = {1, 2}}},
    // Chunking of kernels/cpu/conv.cpp (about 1024 output columns per chunk): 4096-pixel planes go one
    // image per chunk (GEMM straight into the output, im2col split over threads); 576-pixel planes go
    // in chunks of 2 + 1 images.
    {"one image per chunk", 2, 2, 64, 64, 2, 3, 3, {.padding = 1}},
    {"uneven chunks", 3, 4, 24, 24, 3, 3, 3, {.padding = 1}},
};

Conv2dGeom geom(const Case& k, DType dt = DType::f64) {
  return conv2d_geometry(Tensor::empty({k.n, k.c, k.h, k.w}, dt), Tensor::empty({k.o, k.c / k.p.groups, k.kh, k.kw}, dt),
                         k.p);
}

// Direct loops over every (image, filter, output pixel, tap), in double. Forward returns y; with gy
// given it instead accumulates dx and dw.
struct Naive {
  const Case& k;
  int64_t oh, ow;
  explicit Naive(const Case& c)
      : k(c),
        oh((c.h + 2 * c.p.padding.h - c.p.dilation.h * (c.kh - 1) - 1) / c.p.stride.h + 1),
        ow((c.w + 2 * c.p.padding.w - c.p.dilation.w * (c.kw - 1) - 1) / c.p.stride.w + 1) {}

  template <class F>
  void each(F&& f) const {
    int64_t cg = k.c / k.p.groups, og = k.o / k.p.groups;
    for (int64_t n = 0; n < k.n; ++n)
      for (int64_t o = 0; o < k.o; ++o)
        for (int64_t y = 0; y < oh; ++y)
          for (int64_t x = 0; x < ow; ++x)
            for (int64_t ci = 0; ci < cg; ++ci)
              for (int64_t i = 0; i < k.kh; ++i)
                for (int64_t j = 0; j < k.kw; ++j) {
                  int64_t ih = y * k.p.stride.h - k.p.padding.h + i * k.p.dilation.h;
                  int64_t iw = x * k.p.stride.w - k.p.padding.w + j * k.p.dilation.w;
                  if (ih < 0 || ih >= k.h || iw < 0 || iw >= k.w) continue;
                  int64_t c = o / og * cg + ci;
                  f(((n * k.o + o) * oh + y) * ow + x, ((n * k.c + c) * k.h + ih) * k.w + iw,
                    ((o * cg + ci) * k.kh + i) * k.kw + j);
                }
  }
  std::vector<double> forward(const Tensor& x, const Tensor& w) const {
    auto xv = as_doubles(x), wv = as_doubles(w);
    std::vector<double> y(size_t(k.n * k.o * oh * ow), 0.0);
    each([&](int64_t yi, int64_t xi, int64_t wi) { y[size_t(yi)] += xv[size_t(xi)] * wv[size_t(wi)]; });
    return y;
  }
  void backward(const Tensor& gy, const Tensor& x, const Tensor& w, std::vector<double>& dx,
                std::vector<double>& dw) const {
    auto gv = as_doubles(gy), xv = as_doubles(x), wv = as_doubles(w);
    dx.assign(size_t(x.numel()), 0.0);
    dw.assign(size_t(w.numel()), 0.0);
    each([&](int64_t yi, int64_t xi, int64_t wi) {
      dx[size_t(xi)] += gv[size_t(yi)] * wv[size_t(wi)];
      dw[size_t(wi)] += gv[size_t(yi)] * xv[size_t(xi)];
    });
  }
};

void expect_near_all(const Tensor& got, const std::vector<double>& want, double tol, const char* what,
                     const char* name) {
  auto g = as_doubles(got);
  ASSERT_EQ(g.size(), want.size()) << what << " " << name;
  int bad = 0;
  for (size_t i = 0; i < g.size(); ++i)
    if (!(std::abs(g[i] - want[i]) <= tol * (1 + std::abs(want[i]))) && bad++ < 3)
      ADD_FAILURE() << name << " " << what << "[" << i << "]: got " << g[i] << " want " << want[i];
}

}  // namespace

TEST(OpsConv, ForwardMatchesDirectLoops) {
  for (const Case& k : kCases)
    for (DType dt : {DType::f64, DType::f32}) {
      Tensor x = randn({k.n, k.c, k.h, k.w}, dt, 1), w = randn({k.o, k.c / k.p.groups, k.kh, k.kw}, dt, 2);
      Conv2dGeom g = geom(k, dt);
      Naive ref(k);
      ASSERT_EQ(g.oh, ref.oh) << k.name;
      ASSERT_EQ(g.ow, ref.ow) << k.name;
      Tensor y = Tensor::full(g.y_shape(), std::numeric_limits<double>::quiet_NaN(), dt);
      conv2d_forward(Stream::cpu(), y, x, w, g);
      expect_near_all(y, ref.forward(x, w), dt == DType::f64 ? 1e-12 : 1e-5, "y", k.name);
    }
}

TEST(OpsConv, BackwardKernelsMatchDirectLoopsAndAccumulate) {
  for (const Case& k : kCases) {
    DType dt = DType::f64;
    Conv2dGeom g = geom(k);
    Tensor x = randn(g.x_shape(), dt, 3), w = randn(g.w_shape(), dt, 4), gy = randn(g.y_shape(), dt, 5);
    std::vector<double> dx_ref, dw_ref;
    Naive(k).backward(gy, x, w, dx_ref, dw_ref);
    Tensor dx = Tensor::full(g.x_shape(), std::numeric_limits<double>::quiet_NaN(), dt);
    Tensor dw = Tensor::full(g.w_shape(), std::numeric_limits<double>::quiet_NaN(), dt);
    conv2d_backward_data(Stream::cpu(), dx, gy, w, g, 0.0);
    conv2d_backward_filter(Stream::cpu(), dw, gy, x, g, 0.0);
    expect_near_all(dx, dx_ref, 1e-12, "dx", k.name);
    expect_near_all(dw, dw_ref, 1e-12, "dw", k.name);
    // beta: out = result + beta * out.
    Tensor dx0 = randn(g.x_shape(), dt, 6), dw0 = randn(g.w_shape(), dt, 7);
    Tensor dx1 = dx0.clone(), dw1 = dw0.clone();
    conv2d_backward_data(Stream::cpu(), dx1, gy, w, g, 0.5);
    conv2d_backward_filter(Stream::cpu(), dw1, gy, x, g, 1.0);
    auto a = as_doubles(dx0), b = as_doubles(dw0);
    for (size_t i = 0; i < a.size(); ++i) a[i] = dx_ref[i] + 0.5 * a[i];
    for (size_t i = 0; i < b.size(); ++i) b[i] = dw_ref[i] + b[i];
    expect_near_all(dx1, a, 1e-12, "dx (beta 0.5)", k.name);
    expect_near_all(dw1, b, 1e-12, "dw (beta 1)", k.name);
  }
}

TEST(OpsConv, OpAddsBias) {
  const Case& k = kCases[1];
  Tensor x = randn({k.n, k.c, k.h, k.w}, DType::f64, 8), w = randn({k.o, k.c, k.kh, k.kw}, DType::f64, 9);
  Tensor b = randn({k.o}, DType::f64, 10);
  Tape t(Stream::cpu());
  Var y = conv2d(t, t.leaf(x), t.leaf(w), t.leaf(b), k.p);
  Naive ref(k);
  auto want = ref.forward(x, w), bv = as_doubles(b);
  for (size_t i = 0; i < want.size(); ++i) want[i] += bv[(i / size_t(ref.oh * ref.ow)) % size_t(k.o)];
  expect_near_all(t.value(y), want, 1e-12, "y", k.name);
}

TEST(OpsConv, Gradient) {
  for (int i : {0, 1, 2, 4, 5, 6, 7}) {
    const Case& k = kCases[i];
    SCOPED_TRACE(k.name);
    Tensor x = randn({k.n, k.c, k.h, k.w}, DType::f64, 11), w = randn({k.o, k.c / k.p.groups, k.kh, k.kw}, DType::f64, 12);
    Tensor b = randn({k.o}, DType::f64, 13);
    Conv2dParams p = k.p;
    check_gradients({x, w, b}, {true, true, true},
                    [p](Tape& t, const std::vector<Var>& v) { return conv2d(t, v[0], v[1], v[2], p); },
                    {.max_checks_per_input = 16});
  }
  // Only the weight needs a gradient (first layer): backward-data is skipped.
  check_gradients({randn({1, 2, 5, 5}, DType::f64, 14), randn({3, 2, 3, 3}, DType::f64, 15)}, {false, true},
                  [](Tape& t, const std::vector<Var>& v) { return conv2d(t, v[0], v[1], {}, {.padding = 1}); });
}

namespace {
void expect_error(const std::function<void()>& f, std::initializer_list<const char*> parts) {
  try {
    f();
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    std::string m = e.what();
    for (const char* p : parts) EXPECT_NE(m.find(p), std::string::npos) << "'" << p << "' missing in: " << m;
  }
}
}  // namespace

TEST(OpsConv, BadInputThrowsNamingOpAndShapes) {
  Tape t(Stream::cpu());
  auto leaf = [&](Shape s, DType dt = DType::f64) { return t.leaf(Tensor::zeros(s, dt)); };
  expect_error([&] { conv2d(t, leaf({1, 3, 5, 5}), leaf({4, 2, 3, 3})); }, {"conv2d", "[1, 3, 5, 5]", "[4, 2, 3, 3]"});
  expect_error([&] { conv2d(t, leaf({1, 3, 5, 5}), leaf({4, 1, 3, 3}), {}, {.groups = 2}); },
               {"conv2d", "groups 2", "[1, 3, 5, 5]"});
  expect_error([&] { conv2d(t, leaf({1, 4, 5, 5}), leaf({3, 2, 3, 3}), {}, {.groups = 2}); },
               {"conv2d", "groups 2", "[3, 2, 3, 3]"});
  expect_error([&] { conv2d(t, leaf({1, 2, 4, 4}), leaf({2, 2, 7, 7}), {}, {.padding = 1}); },
               {"conv2d", "larger than the padded input", "[1, 2, 4, 4]", "[2, 2, 7, 7]"});
  expect_error([&] { conv2d(t, leaf({1, 2, 5, 5}), leaf({2, 2, 3, 3}), {}, {.padding = 1, .dilation = 4}); },
               {"conv2d", "larger than the padded input"});
  expect_error([&] { conv2d(t, leaf({1, 2, 5, 5}), leaf({2, 2, 3, 3}, DType::f32)); }, {"conv2d", "F64", "F32"});
  expect_error([&] { conv2d(t, leaf({1, 2, 5, 5}, DType::i32), leaf({2, 2, 3, 3}, DType::i32)); }, {"conv2d"});
  expect_error([&] { conv2d(t, leaf({2, 5, 5}), leaf({2, 2, 3, 3})); }, {"conv2d", "[2, 5, 5]"});
  expect_error([&] { conv2d(t, leaf({1, 2, 5, 5}), leaf({2, 2, 3, 3}), leaf({3})); }, {"conv2d", "bias", "[3]"});
  expect_error([&] { conv2d(t, leaf({1, 2, 5, 5}), leaf({2, 2, 3, 3}), {}, {.stride = 0}); }, {"conv2d", "stride"});
  Conv2dGeom g = conv2d_geometry(Tensor::zeros({1, 2, 5, 5}, DType::f64), Tensor::zeros({2, 2, 3, 3}, DType::f64), {});
  expect_error([&] { conv2d_forward(Stream::cpu(), Tensor::zeros({1, 2, 5, 5}, DType::f64),
                                    Tensor::zeros({1, 2, 5, 5}, DType::f64), Tensor::zeros({2, 2, 3, 3}, DType::f64), g); },
               {"conv2d", "output", "[1, 2, 5, 5]", "[1, 2, 3, 3]"});
}
