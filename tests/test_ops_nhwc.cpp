// Channels-last (NHWC) ops against their NCHW twins on the CPU: conv2d forward, input gradient and filter
// gradient (reference loops in f64; f32 on oneDNN with the fast path, against the f64 NCHW reference;
// beta accumulation; strided 1x1, groups, dilation, bias), batch norm (training and eval, running
// statistics, all three gradients), max / average / global average pooling (forward and backward), the
// permute op; first- and second-order gradient checks in f64 of the channels-last conv2d, its gradient ops,
// batch norm and the pools; and bad layouts named in errors.
#include "kernels/batchnorm.h"
#include "kernels/conv.h"
#include "kernels/cpu/fast_path.h"
#include "kernels/pool.h"
#include "nn/ops_conv.h"
#include "nn/ops_norm.h"
#include "nn/ops_shape.h"
#include "tests/fast_path_scope.h"
#include "tests/test_util.h"

using namespace sp;
using namespace sp::ag;
using namespace sp::test;

SP_GRAD_TESTED(permute);
SP_GRAD2_TESTED(permute);

namespace {

Tensor nhwc(const Tensor& nchw) { return nchw.permute({0, 2, 3, 1}).contiguous(); }
Tensor nchw(const Tensor& nhwc) { return nhwc.permute({0, 3, 1, 2}).contiguous(); }

struct ConvCase {
  const char* name;
  int64_t n, c, h, w, o, k;
  Conv2dParams p;
};
const ConvCase kConv[] = {
    {"3x3 stride 1", 3, 8, 7, 7, 8, 3, {.padding = 1}},
    {"3x3 stride 2, 16 -> 32", 3, 16, 8, 8, 32, 3, {.stride = 2, .padding = 1}},
    {"1x1 stride 2 shortcut", 5, 8, 8, 8, 16, 1, {.stride = 2}},
    {"image input", 2, 3, 9, 9, 8, 3, {.padding = 1}},
    {"groups 2, dilation 2", 2, 4, 9, 9, 6, 3, {.padding = 2, .dilation = 2, .groups = 2}},
    {"chunked batch, 1x1 stride 2", 77, 16, 6, 6, 32, 1, {.stride = 2}},
    {"chunked batch, 3x3", 77, 8, 6, 5, 8, 3, {.stride = 2, .padding = 1}},
};

Conv2dParams last(Conv2dParams p) {
  p.layout = Layout::nhwc;
  return p;
}

// The three conv kernels of one case in one layout: y, then dx and dw accumulated onto `prior` with beta.
struct ConvOut {
  Tensor y, dx, dw;
};
ConvOut run_conv(const ConvCase& k, Layout l, DType dt, double beta) {
  const Tensor x = randn({k.n, k.c, k.h, k.w}, DType::f64, 1);
  const Tensor w = randn({k.o, k.c / k.p.groups, k.k, k.k}, DType::f64, 2);
  Conv2dParams p = k.p;
  p.layout = l;
  auto in_layout = [&](const Tensor& t) { return (l == Layout::nhwc ? nhwc(t) : t).to(dt); };
  const Tensor xl = in_layout(x), wl = w.to(dt);
  const Conv2dGeom g = conv2d_geometry(xl, wl, p);
  const Tensor gy = randn(activation_shape(Layout::nchw, k.n, k.o, g.oh, g.ow), DType::f64, 3);
  ConvOut o;
  o.y = Tensor::empty(g.y_shape(), dt);
  conv2d_forward(Stream::cpu(), o.y, xl, wl, g);
  o.dx = in_layout(randn({k.n, k.c, k.h, k.w}, DType::f64, 4));
  conv2d_backward_data(Stream::cpu(), o.dx, in_layout(gy), wl, g, beta);
  o.dw = randn(g.w_shape(), DType::f64, 5).to(dt);
  conv2d_backward_filter(Stream::cpu(), o.dw, in_layout(gy), xl, g, beta);
  if (l == Layout::nhwc) o.y = nchw(o.y), o.dx = nchw(o.dx);  // compared in NCHW
  return o;
}

}  // namespace

TEST(OpsNhwc, ConvKernelsMatchNchwTwin) {
  for (const ConvCase& k : kConv)
    for (double beta : {0.0, 1.0}) {
      SCOPED_TRACE(std::string(k.name) + (beta == 0.0 ? ", beta 0" : ", beta 1"));
      const ConvOut ref = run_conv(k, Layout::nchw, DType::f64, beta);
      {
        FastPath reference(false);  // f64 and f32 on the reference loops, through NCHW copies
        for (DType dt : {DType::f64, DType::f32}) {
          const double tol = dt == DType::f64 ? 1e-12 : 2e-5;
          const ConvOut got = run_conv(k, Layout::nhwc, dt, beta);
          EXPECT_TRUE(all_close(got.y, ref.y, tol, tol * max_abs(ref.y))) << dtype_name(dt);
          EXPECT_TRUE(all_close(got.dx, ref.dx, tol, tol * max_abs(ref.dx))) << dtype_name(dt);
          EXPECT_TRUE(all_close(got.dw, ref.dw, tol, tol * max_abs(ref.dw))) << dtype_name(dt);
        }
      }
      FastPath fast(true);  // f32 on oneDNN with nhwc memory (the strided 1x1 ones behind reorders)
      const ConvOut got = run_conv(k, Layout::nhwc, DType::f32, beta);
      EXPECT_TRUE(all_close(got.y, ref.y, 1e-4, 1e-4 * max_abs(ref.y))) << "fast path";
      EXPECT_TRUE(all_close(got.dx, ref.dx, 1e-4, 1e-4 * max_abs(ref.dx))) << "fast path";
      EXPECT_TRUE(all_close(got.dw, ref.dw, 1e-4, 1e-4 * max_abs(ref.dw))) << "fast path";
    }
}

TEST(OpsNhwc, ConvOpWithBiasMatchesNchwTwin) {
  const Tensor x = randn({2, 4, 6, 5}, DType::f64, 1), w = randn({6, 4, 3, 3}, DType::f64, 2);
  const Tensor b = randn({6}, DType::f64, 3);
  const Conv2dParams p{.stride = 2, .padding = 1};
  auto grads = [&](Layout l) {
    Tape t(Stream::cpu());
    Var xv = t.leaf(l == Layout::nhwc ? nhwc(x) : x, true), wv = t.leaf(w, true), bv = t.leaf(b, true);
    Conv2dParams q = p;
    q.layout = l;
    Var y = conv2d(t, xv, wv, bv, q);
    Tensor yv = t.value(y);
    Tensor seed = randn(yv.shape(), DType::f64, 9);
    if (l == Layout::nhwc) seed = nhwc(randn(nchw(yv).shape(), DType::f64, 9));
    std::vector<Tensor> g = t.grad(y, {xv, wv, bv}, &seed);
    if (l == Layout::nhwc) yv = nchw(yv), g[0] = nchw(g[0]);
    g.push_back(yv);
    return g;
  };
  const auto ref = grads(Layout::nchw), got = grads(Layout::nhwc);
  for (size_t i = 0; i < ref.size(); ++i) EXPECT_TRUE(all_close(got[i], ref[i], 1e-12, 1e-12)) << "output " << i;
}

TEST(OpsNhwc, ConvGradientsFirstAndSecondOrder) {
  const Conv2dParams p = last({.stride = 2, .padding = 1});
  const Tensor x = randn({2, 5, 5, 3}, DType::f64, 11), w = randn({4, 3, 3, 3}, DType::f64, 12);
  const Tensor b = randn({4}, DType::f64, 13);
  auto f = [p](Tape& t, const std::vector<Var>& v) { return conv2d(t, v[0], v[1], v[2], p); };
  check_gradients({x, w, b}, {true, true, true}, f, {.max_checks_per_input = 16});
  check_second_order({x, w, b}, {true, true, true}, f, {.max_checks_per_input = 8});
  // The gradient ops on their own, so their backwards (forward conv, the other gradient op) run channels-last.
  const Conv2dGeom g = conv2d_geometry(x, w, p);
  const Tensor gy = randn(g.y_shape(), DType::f64, 14);
  check_second_order({gy, w}, {true, true},
                     [g](Tape& t, const std::vector<Var>& v) { return conv2d_input_grad(t, v[0], v[1], g); },
                     {.max_checks_per_input = 8});
  check_second_order({gy, x}, {true, true},
                     [g](Tape& t, const std::vector<Var>& v) { return conv2d_weight_grad(t, v[0], v[1], g); },
                     {.max_checks_per_input = 8});
}

namespace {

// Batch norm outputs in NCHW order: y, dx, dw, db and the running statistics after the call.
std::vector<Tensor> run_batch_norm(Layout l, DType dt, bool training) {
  const Tensor x = randn({5, 6, 7, 5}, DType::f64, 21, 2.0, 0.5);  // 175 rows: three blocks of the fast path
  const Tensor w = randn({6}, DType::f64, 22), b = randn({6}, DType::f64, 23);
  const Tensor gy = randn(x.shape(), DType::f64, 24);
  const Tensor rm = randn({6}, dt, 25), rv = rand_uniform({6}, dt, 26, 0.5, 2.0);
  Tape t(Stream::cpu());
  auto in = [&](const Tensor& v) { return (l == Layout::nhwc ? nhwc(v) : v).to(dt); };
  Var xv = t.leaf(in(x), true), wv = t.leaf(w.to(dt), true), bv = t.leaf(b.to(dt), true);
  Var y = batch_norm(t, xv, wv, bv, rm, rv, training, 0.1, 1e-5, l);
  const Tensor seed = in(gy);
  std::vector<Tensor> g = t.grad(y, {xv, wv, bv}, &seed);
  Tensor yv = t.value(y);
  if (l == Layout::nhwc) yv = nchw(yv), g[0] = nchw(g[0]);
  return {yv, g[0], g[1], g[2], rm, rv};
}

}  // namespace

TEST(OpsNhwc, BatchNormMatchesNchwTwin) {
  for (bool training : {true, false}) {
    SCOPED_TRACE(training ? "training" : "eval");
    const auto ref = run_batch_norm(Layout::nchw, DType::f64, training);
    {
      FastPath reference(false);
      const auto got = run_batch_norm(Layout::nhwc, DType::f64, training);
      for (size_t i = 0; i < ref.size(); ++i) EXPECT_TRUE(all_close(got[i], ref[i], 1e-10, 1e-10)) << "output " << i;
    }
    // f32: the reference loops and the channels-innermost fast path (kernels/cpu/batchnorm_last.h).
    for (bool fast : {false, true}) {
      FastPath mode(fast);
      const auto got = run_batch_norm(Layout::nhwc, DType::f32, training);
      for (size_t i = 0; i < ref.size(); ++i)
        EXPECT_TRUE(all_close(got[i], ref[i], 1e-4, 1e-4 * std::max(1.0, max_abs(ref[i]))))
            << "output " << i << (fast ? ", fast path" : ", reference");
    }
  }
}

TEST(OpsNhwc, BatchNormGradientsFirstAndSecondOrder) {
  const Tensor x = randn({3, 4, 3, 5}, DType::f64, 31), w = randn({5}, DType::f64, 32), b = randn({5}, DType::f64, 33);
  const Tensor rm = Tensor::zeros({5}, DType::f64), rv = Tensor::zeros({5}, DType::f64);
  for (bool training : {true, false}) {
    SCOPED_TRACE(training ? "training" : "eval");
    rv.fill_(1.0);
    auto f = [&](Tape& t, const std::vector<Var>& v) {
      // Running statistics are updated in place by training calls: eval reads fixed ones.
      return batch_norm(t, v[0], v[1], v[2], training ? Tensor() : rm, training ? Tensor() : rv, training, 0.1, 1e-5,
                        Layout::nhwc);
    };
    check_gradients({x, w, b}, {true, true, true}, f, {.max_checks_per_input = 16});
    check_second_order({x, w, b}, {true, true, true}, f, {.max_checks_per_input = 8});
  }
}

namespace {

// A pool's output and input gradient (NCHW order) in one layout.
std::pair<Tensor, Tensor> run_pool(Layout l, int kind, const Pool2dOptions& o) {
  const Tensor x = randn({2, 3, 7, 6}, DType::f64, 41), gy0 = randn({2, 3, 7, 6}, DType::f64, 42);
  Tape t(Stream::cpu());
  Var xv = t.leaf(l == Layout::nhwc ? nhwc(x) : x, true);
  Pool2dOptions q = o;
  q.layout = l;
  Var y = kind == 0 ? max_pool2d(t, xv, q) : kind == 1 ? avg_pool2d(t, xv, q) : global_avg_pool(t, xv, l);
  Tensor yv = t.value(y);
  // One seed in NCHW order, laid out as the output is.
  Tensor seed = randn(l == Layout::nhwc && yv.dim() == 4 ? nchw(yv).shape() : yv.shape(), DType::f64, 43);
  if (l == Layout::nhwc && yv.dim() == 4) seed = nhwc(seed);
  Tensor dx = t.grad(y, {xv}, &seed)[0];
  if (l == Layout::nhwc) {
    dx = nchw(dx);
    if (yv.dim() == 4) yv = nchw(yv);
  }
  return {yv, dx};
}

}  // namespace

TEST(OpsNhwc, PoolsMatchNchwTwin) {
  const Pool2dOptions windows[] = {
      {.kernel = 2}, {.kernel = 3, .stride = 2, .padding = 1}, {.kernel = {3, 2}, .stride = 1}};
  for (int kind : {0, 1, 2})
    for (const Pool2dOptions& o : windows) {
      SCOPED_TRACE(kind == 0 ? "max" : kind == 1 ? "avg" : "global");
      const auto ref = run_pool(Layout::nchw, kind, o), got = run_pool(Layout::nhwc, kind, o);
      EXPECT_TRUE(all_close(got.first, ref.first, 1e-14, 1e-14));
      EXPECT_TRUE(all_close(got.second, ref.second, 1e-14, 1e-14));
    }
}

TEST(OpsNhwc, PoolGradientsFirstAndSecondOrder) {
  const Tensor x = randn({2, 5, 6, 3}, DType::f64, 51);
  const Pool2dOptions o{.kernel = 3, .stride = 2, .padding = 1, .layout = Layout::nhwc};
  auto avg = [o](Tape& t, const std::vector<Var>& v) { return avg_pool2d(t, v[0], o); };
  auto max = [o](Tape& t, const std::vector<Var>& v) { return max_pool2d(t, v[0], o); };
  auto global = [](Tape& t, const std::vector<Var>& v) { return global_avg_pool(t, v[0], Layout::nhwc); };
  for (const auto& f : {std::function<Var(Tape&, const std::vector<Var>&)>(avg), {max}, {global}}) {
    check_gradients({x}, {true}, f);
    check_second_order({x}, {true}, f, {.max_checks_per_input = 16});
  }
}

TEST(OpsNhwc, PermuteAndLayoutMoves) {
  const Tensor x = randn({2, 3, 4, 5}, DType::f64, 61);
  auto f = [](Tape& t, const std::vector<Var>& v) { return permute(t, v[0], {2, 0, 3, 1}); };
  check_gradients({x}, {true}, f);
  check_second_order({x}, {true}, f);
  Tape t(Stream::cpu());
  Var there = to_layout(t, t.leaf(x), Layout::nhwc);
  EXPECT_EQ(t.value(there).shape(), Shape({2, 4, 5, 3}));
  EXPECT_TRUE(all_close(t.value(there), nhwc(x), 0, 0));
  EXPECT_TRUE(all_close(t.value(to_layout(t, there, Layout::nchw)), x, 0, 0));
  expect_error_mentioning([&] { permute(t, t.leaf(x), {0, 1, 2}); }, "permute");
}

TEST(OpsNhwc, BadLayoutsAreNamed) {
  const Tensor x = randn({2, 5, 5, 3}, DType::f64, 71), w = randn({4, 8, 3, 3}, DType::f64, 72);
  // An NCHW-shaped weight whose input channels do not match the channels-last input's last axis.
  expect_error_mentioning([&] { conv2d_geometry(x, w, last({.padding = 1})); }, "NHWC input");
  Tape t(Stream::cpu());
  expect_error_mentioning(
      [&] { batch_norm(t, t.leaf(randn({2, 3}, DType::f64, 1)), {}, {}, Tensor(), Tensor(), true, 0.1, 1e-5,
                       Layout::nhwc); },
      "[N, H, W, C]");
  expect_error_mentioning([&] { global_avg_pool(t, t.leaf(randn({2, 3, 4}, DType::f64, 2)), Layout::nhwc); }, "NHWC");
}
