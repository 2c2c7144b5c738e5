// grid_sample / grid_sample_grad / remap / remap_grad and the affine_grid kernel: values against direct f64
// formulas written here (PyTorch's documented affine_grid and bilinear grid_sample, in a different form:
// tent weights instead of corner products), identity and 90-degree rotation cases, flip and translation by
// hand, the adjoint identities <A x, u> = <x, A^T u>, beta accumulation of the kernels, first- and
// second-order gradient checks in f64, and bad shapes named in errors.
#include <cmath>

#include "kernels/grid_sample.h"
#include "kernels/remap.h"
#include "nn/ops_augment.h"
#include "tests/test_util.h"

using namespace sp;
using namespace sp::test;

SP_GRAD_TESTED(grid_sample);
SP_GRAD_TESTED(grid_sample_grad);
SP_GRAD_TESTED(remap);
SP_GRAD_TESTED(remap_grad);
SP_GRAD2_TESTED(grid_sample);
SP_GRAD2_TESTED(grid_sample_grad);
SP_GRAD2_TESTED(remap);
SP_GRAD2_TESTED(remap_grad);

namespace {

// affine_grid's base coordinate: linspace(-1, 1, size), shrunk by (size - 1) / size without align_corners.
double base_coord(int64_t i, int64_t size, bool align) {
  if (size == 1) return 0.0;
  return align ? -1.0 + 2.0 * double(i) / double(size - 1) : (2.0 * double(i) + 1.0) / double(size) - 1.0;
}

std::vector<double> naive_affine_grid(const std::vector<double>& theta, int64_t n, int64_t h, int64_t w, bool align) {
  std::vector<double> g;
  for (int64_t b = 0; b < n; ++b)
    for (int64_t i = 0; i < h; ++i)
      for (int64_t j = 0; j < w; ++j) {
        const double* m = theta.data() + b * 6;
        double x = base_coord(j, w, align), y = base_coord(i, h, align);
        g.push_back(m[0] * x + m[1] * y + m[2]);
        g.push_back(m[3] * x + m[4] * y + m[5]);
      }
  return g;
}

// Bilinear sampling as a sum of tent functions over the pixels near the point: weight
// max(0, 1 - |ix - px|) * max(0, 1 - |iy - py|), pixels outside the image being zeros.
std::vector<double> naive_grid_sample(const Tensor& x, const Tensor& grid, bool align) {
  auto xv = as_doubles(x), gv = as_doubles(grid);
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3), oh = grid.size(1), ow = grid.size(2);
  std::vector<double> y;
  for (int64_t b = 0; b < n; ++b)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t i = 0; i < oh; ++i)
        for (int64_t j = 0; j < ow; ++j) {
          double gx = gv[size_t(((b * oh + i) * ow + j) * 2)], gy = gv[size_t(((b * oh + i) * ow + j) * 2 + 1)];
          double ix = align ? (gx + 1) / 2 * double(w - 1) : ((gx + 1) * double(w) - 1) / 2;
          double iy = align ? (gy + 1) / 2 * double(h - 1) : ((gy + 1) * double(h) - 1) / 2;
          double acc = 0;
          for (int64_t py = int64_t(std::floor(iy)) - 1; py <= int64_t(std::floor(iy)) + 2; ++py)
            for (int64_t px = int64_t(std::floor(ix)) - 1; px <= int64_t(std::floor(ix)) + 2; ++px) {
              if (py < 0 || py >= h || px < 0 || px >= w) continue;
              double wt = std::max(0.0, 1 - std::abs(ix - double(px))) * std::max(0.0, 1 - std::abs(iy - double(py)));
              acc += wt * xv[size_t(((b * c + ch) * h + py) * w + px)];
            }
          y.push_back(acc);
        }
  return y;
}

void expect_values(const Tensor& got, const std::vector<double>& want, double tol, const std::string& what) {
  auto g = as_doubles(got);
  ASSERT_EQ(g.size(), want.size()) << what;
  for (size_t i = 0; i < g.size(); ++i) EXPECT_NEAR(g[i], want[i], tol) << what << " [" << i << "]";
}

double dot(const Tensor& a, const Tensor& b) {
  auto x = as_doubles(a), y = as_doubles(b);
  double s = 0;
  for (size_t i = 0; i < x.size(); ++i) s += x[i] * y[i];
  return s;
}

Tensor theta_tensor(const std::vector<double>& th, int64_t n, DType dt) {
  return Tensor::from_vector(th, {n, 2, 3}).to(dt);
}

// Per-sample affine matrices mixing scale, rotation and shift.
std::vector<double> some_thetas(int64_t n) {
  std::vector<double> th;
  for (int64_t b = 0; b < n; ++b) {
    double a = 0.3 * double(b) - 0.2, s = 0.9 + 0.1 * double(b);
    th.insert(th.end(), {s * std::cos(a), -std::sin(a), 0.05 * double(b), std::sin(a), 1.1 * std::cos(a), -0.1});
  }
  return th;
}

Tensor params_tensor(const std::vector<int32_t>& p) { return Tensor::from_vector(p, {int64_t(p.size() / 3), 3}); }

}  // namespace

TEST(OpsAugment, AffineGridMatchesFormula) {
  for (bool align : {true, false})
    for (DType dt : {DType::f64, DType::f32})
      for (auto [h, w] : {std::pair<int64_t, int64_t>{4, 6}, {1, 5}, {7, 1}, {32, 32}}) {
        auto th = some_thetas(3);
        Tensor grid = affine_grid_tensor(Stream::cpu(), theta_tensor(th, 3, dt), h, w, align);
        ASSERT_EQ(grid.shape(), (Shape{3, h, w, 2}));
        expect_values(grid, naive_affine_grid(th, 3, h, w, align), dt == DType::f64 ? 1e-14 : 1e-6,
                      "affine_grid " + std::to_string(h) + "x" + std::to_string(w));
      }
}

TEST(OpsAugment, GridSampleMatchesDirectBilinear) {
  struct C {
    Shape x;
    int64_t oh, ow;
  };
  for (C k : {C{{2, 3, 5, 7}, 4, 6}, C{{1, 2, 8, 8}, 8, 8}, C{{3, 1, 1, 4}, 2, 3}})
    for (bool align : {true, false})
      for (DType dt : {DType::f64, DType::f32}) {
        Tensor x = randn(k.x, dt, 1);
        // Points spread past [-1, 1] so that some taps fall outside the image.
        Tensor grid = rand_uniform({k.x[0], k.oh, k.ow, 2}, dt, 2, -1.3, 1.3);
        Tape t(Stream::cpu());
        Var y = ag::grid_sample(t, t.leaf(x), grid, align);
        expect_values(t.value(y), naive_grid_sample(x, grid, align), dt == DType::f64 ? 1e-13 : 1e-5,
                      std::string("grid_sample align ") + (align ? "true" : "false"));
      }
}

TEST(OpsAugment, IdentityThetaGivesTheInputBack) {
  for (bool align : {true, false}) {
    Tensor x = randn({2, 3, 6, 9}, DType::f64, 3);
    Tensor grid = affine_grid_tensor(Stream::cpu(), theta_tensor({1, 0, 0, 0, 1, 0, 1, 0, 0, 0, 1, 0}, 2, DType::f64),
                                     6, 9, align);
    Tape t(Stream::cpu());
    EXPECT_TRUE(all_close(t.value(ag::grid_sample(t, t.leaf(x), grid, align)), x, 1e-14, 1e-14)) << align;
  }
}

TEST(OpsAugment, QuarterTurnMovesPixelsAsExpected) {
  // theta = [[0, -1, 0], [1, 0, 0]] samples (x, y) at (-y, x): out(i, j) = in(j, H - 1 - i) on a square image.
  const int64_t H = 5;
  Tensor x = randn({1, 2, H, H}, DType::f64, 4);
  Tensor grid = affine_grid_tensor(Stream::cpu(), theta_tensor({0, -1, 0, 1, 0, 0}, 1, DType::f64), H, H, true);
  Tape t(Stream::cpu());
  auto y = as_doubles(t.value(ag::grid_sample(t, t.leaf(x), grid, true)));
  auto xv = as_doubles(x);
  for (int64_t c = 0; c < 2; ++c)
    for (int64_t i = 0; i < H; ++i)
      for (int64_t j = 0; j < H; ++j)
        EXPECT_NEAR(y[size_t((c * H + i) * H + j)], xv[size_t((c * H + j) * H + (H - 1 - i))], 1e-14);
}

TEST(OpsAugment, GridSampleGradIsTheAdjoint) {
  for (bool align : {true, false}) {
    Tensor x = randn({2, 3, 5, 6}, DType::f64, 5), u = randn({2, 3, 4, 7}, DType::f64, 6);
    Tensor grid = rand_uniform({2, 4, 7, 2}, DType::f64, 7, -1.2, 1.2);
    Tape t(Stream::cpu());
    Tensor ax = t.value(ag::grid_sample(t, t.leaf(x), grid, align));
    Tensor atu = t.value(ag::grid_sample_grad(t, t.leaf(u), grid, 5, 6, align));
    ASSERT_EQ(atu.shape(), x.shape());
    EXPECT_NEAR(dot(ax, u), dot(x, atu), 1e-12);
  }
}

TEST(OpsAugment, KernelsAccumulateWithBeta) {
  Stream& s = Stream::cpu();
  Tensor x = randn({1, 2, 4, 5}, DType::f64, 8), grid = rand_uniform({1, 3, 3, 2}, DType::f64, 9, -1, 1);
  GridSampleGeom g = grid_sample_geometry("test", x, grid, true);
  Tensor y0 = randn({1, 2, 3, 3}, DType::f64, 10), y = y0.clone(), fresh = Tensor::empty(y.shape(), DType::f64);
  grid_sample_forward(s, y, x, grid, g, 2.0);
  grid_sample_forward(s, fresh, x, grid, g, 0.0);
  expect_values(
      y,
      [&] {
        auto a = as_doubles(fresh), b = as_doubles(y0);
        for (size_t i = 0; i < a.size(); ++i) a[i] += 2 * b[i];
        return a;
      }(),
      1e-14, "grid_sample beta");
  Tensor d0 = randn(x.shape(), DType::f64, 11), d = d0.clone(), dfresh = Tensor::empty(x.shape(), DType::f64);
  grid_sample_backward(s, d, y0, grid, g, -0.5);
  grid_sample_backward(s, dfresh, y0, grid, g, 0.0);
  auto want = as_doubles(dfresh), base = as_doubles(d0);
  for (size_t i = 0; i < want.size(); ++i) want[i] -= 0.5 * base[i];
  expect_values(d, want, 1e-14, "grid_sample backward beta");
  Tensor p = params_tensor({1, -2, 1}), r0 = randn(x.shape(), DType::f64, 12), r = r0.clone(),
         rfresh = Tensor::empty(x.shape(), DType::f64);
  remap_forward(s, r, x, p, false, 1.0);
  remap_forward(s, rfresh, x, p, false, 0.0);
  auto rw = as_doubles(rfresh), rb = as_doubles(r0);
  for (size_t i = 0; i < rw.size(); ++i) rw[i] += rb[i];
  expect_values(r, rw, 1e-15, "remap beta");
}

TEST(OpsAugment, RemapFlipsAndTranslatesByHand) {
  // One 3x4 plane holding 0..11; sample 0 flips, sample 1 shifts by (dy, dx) = (1, -2), sample 2 both.
  std::vector<double> plane(12);
  for (int k = 0; k < 12; ++k) plane[size_t(k)] = double(k + 1);
  std::vector<double> xs;
  for (int b = 0; b < 3; ++b) xs.insert(xs.end(), plane.begin(), plane.end());
  Tensor x = Tensor::from_vector(xs, {3, 1, 3, 4});
  Tensor p = params_tensor({0, 0, 1, 1, -2, 0, 1, -2, 1});
  Tape t(Stream::cpu());
  auto y = as_doubles(t.value(ag::remap(t, t.leaf(x), p)));
  const std::vector<double> want = {// flip: each row reversed
                                    4, 3, 2, 1, 8, 7, 6, 5, 12, 11, 10, 9,
                                    // out(i, j) = in(i + 1, j - 2)
                                    0, 0, 5, 6, 0, 0, 9, 10, 0, 0, 0, 0,
                                    // out(i, j) = in(i + 1, (3 - j) - 2)
                                    6, 5, 0, 0, 10, 9, 0, 0, 0, 0, 0, 0};
  EXPECT_EQ(y, want);
  // The adjoint sends each value back where it came from: remap_grad(remap(x)) keeps x on the kept pixels.
  auto back = as_doubles(t.value(ag::remap_grad(t, t.leaf(Tensor::from_vector(want, {3, 1, 3, 4})), p)));
  const std::vector<double> kept = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,  //
                                    0, 0, 0, 0, 5, 6, 0, 0, 9, 10, 0,  0,   //
                                    0, 0, 0, 0, 5, 6, 0, 0, 9, 10, 0,  0};
  EXPECT_EQ(back, kept);
}

TEST(OpsAugment, RemapGradIsTheAdjoint) {
  Tensor x = randn({4, 2, 5, 6}, DType::f64, 13), u = randn({4, 2, 5, 6}, DType::f64, 14);
  Tensor p = params_tensor({0, 0, 1, 2, -3, 0, -4, 5, 1, 7, 0, 0});
  Tape t(Stream::cpu());
  Tensor ax = t.value(ag::remap(t, t.leaf(x), p)), atu = t.value(ag::remap_grad(t, t.leaf(u), p));
  EXPECT_NEAR(dot(ax, u), dot(x, atu), 1e-12);
}

namespace {

// f(x) = A(x) * A(x): a nonlinear function of a linear op, so the second derivatives pass through the op's
// differentiable backward (its partner op) and that op's own differentiable backward.
Var squared(Tape& t, Var y) { return ag::mul(t, y, y); }

}  // namespace

TEST(OpsAugment, GridSampleGradients) {
  for (bool align : {true, false}) {
    Tensor x = randn({2, 2, 4, 5}, DType::f64, 15), grid = rand_uniform({2, 3, 4, 2}, DType::f64, 16, -1.2, 1.2);
    auto f = [grid, align](Tape& t, const std::vector<Var>& v) { return ag::grid_sample(t, v[0], grid, align); };
    check_gradients({x}, {true}, f);
    check_second_order({x}, {true}, [f](Tape& t, const std::vector<Var>& v) { return squared(t, f(t, v)); });
    Tensor u = randn({2, 2, 3, 4}, DType::f64, 17);
    auto g = [grid, align](Tape& t, const std::vector<Var>& v) {
      return ag::grid_sample_grad(t, v[0], grid, 4, 5, align);
    };
    check_gradients({u}, {true}, g);
    check_second_order({u}, {true}, [g](Tape& t, const std::vector<Var>& v) { return squared(t, g(t, v)); });
    check_second_order({u}, {true}, g);  // linear: the gradient is a constant
  }
}

TEST(OpsAugment, RemapGradients) {
  Tensor x = randn({3, 2, 4, 5}, DType::f64, 18), p = params_tensor({1, -1, 0, 0, 2, 1, -2, 0, 1});
  for (bool adjoint : {false, true}) {
    auto f = [p, adjoint](Tape& t, const std::vector<Var>& v) {
      return adjoint ? ag::remap_grad(t, v[0], p) : ag::remap(t, v[0], p);
    };
    check_gradients({x}, {true}, f);
    check_second_order({x}, {true}, [f](Tape& t, const std::vector<Var>& v) { return squared(t, f(t, v)); });
  }
}

TEST(OpsAugment, BadShapesAreNamed) {
  Tape t(Stream::cpu());
  Var x = t.leaf(randn({2, 3, 4, 4}, DType::f64, 19));
  expect_error_mentioning(
      [&] {
        ag::grid_sample(t, x, Tensor::zeros({3, 4, 4, 2}, DType::f64), true);
      },
      "grid_sample: grid [3, 4, 4, 2]");
  expect_error_mentioning(
      [&] {
        ag::grid_sample(t, x, Tensor::zeros({2, 4, 4, 3}, DType::f64), true);
      },
      "grid_sample: grid");
  expect_error_mentioning(
      [&] {
        ag::grid_sample(t, x, Tensor::zeros({2, 4, 4, 2}, DType::f32), true);
      },
      "grid_sample: dtypes differ");
  expect_error_mentioning(
      [&] {
        ag::grid_sample(t, t.leaf(randn({3, 4, 4}, DType::f64, 1)), Tensor::zeros({2, 4, 4, 2}, DType::f64), true);
      },
      "grid_sample: input must be 4-D");
  expect_error_mentioning(
      [&] {
        ag::grid_sample_grad(t, x, Tensor::zeros({2, 5, 4, 2}, DType::f64), 4, 4, true);
      },
      "grid_sample_grad: grid");
  expect_error_mentioning(
      [&] {
        ag::grid_sample_grad(t, x, Tensor::zeros({2, 4, 4, 2}, DType::f64), 0, 4, true);
      },
      "grid_sample_grad: input size 0x4");
  expect_error_mentioning(
      [&] {
        affine_grid_tensor(Stream::cpu(), Tensor::zeros({2, 3, 2}, DType::f64), 4, 4, true);
      },
      "affine_grid: theta must be [N, 2, 3]");
  expect_error_mentioning([&] { ag::remap(t, x, Tensor::zeros({2, 2}, DType::i32)); }, "remap: params");
  expect_error_mentioning([&] { ag::remap(t, x, Tensor::zeros({2, 3}, DType::i64)); }, "remap: params");
  expect_error_mentioning([&] { ag::remap_grad(t, x, Tensor::zeros({3, 3}, DType::i32)); }, "remap_grad: params");
  expect_error_mentioning(
      [&] {
        ag::remap(t, t.leaf(randn({2, 3, 4}, DType::f64, 1)), Tensor::zeros({2, 3}, DType::i32));
      },
      "remap: input must be 4-D");
}
