// The DP-SGD kernels on the CPU: the unfold (the CPU loop nest and the CUDA kernel's index math) against
// direct loops (stride, padding, dilation, non-square kernels), squared row norms (with accumulation), clipping factors, and the counter-based Gaussian noise
// (deterministic per key and stream, mean 0 and variance 1, independent streams, odd lengths); bad input.
#include <cmath>

#include "kernels/dp_sgd.h"
#include "kernels/dp_sgd_math.h"
#include "kernels/matmul.h"
#include "kernels/unfold.h"
#include "tests/test_util.h"

using namespace sp;

namespace {

// Direct definition of unfold (see kernels/unfold.h).
std::vector<double> unfold_reference(const Tensor& x, const Conv2dGeom& g) {
  auto xv = test::as_doubles(x);
  const int64_t rows = g.c * g.kh * g.kw, cols = g.oh * g.ow;
  std::vector<double> out(static_cast<size_t>(g.n * rows * cols), 0.0);
  for (int64_t n = 0; n < g.n; ++n)
    for (int64_t c = 0; c < g.c; ++c)
      for (int64_t i = 0; i < g.kh; ++i)
        for (int64_t j = 0; j < g.kw; ++j)
          for (int64_t oy = 0; oy < g.oh; ++oy)
            for (int64_t ox = 0; ox < g.ow; ++ox) {
              int64_t iy = oy * g.sh - g.ph + i * g.dh, ix = ox * g.sw - g.pw + j * g.dw;
              double v = 0;
              if (iy >= 0 && iy < g.h && ix >= 0 && ix < g.w) v = xv[size_t(((n * g.c + c) * g.h + iy) * g.w + ix)];
              int64_t row = (c * g.kh + i) * g.kw + j;
              out[size_t((n * rows + row) * cols + oy * g.ow + ox)] = v;
            }
  return out;
}

}  // namespace

TEST(DpsgdKernels, UnfoldMatchesDirectLoops) {
  struct Case {
    Shape x, w;
    Conv2dParams p;
  };
  std::vector<Case> cases = {
      {{2, 3, 5, 5}, {4, 3, 3, 3}, {{1}, {1}, {1}, 1}},
      {{3, 2, 7, 6}, {3, 2, 3, 3}, {{2}, {1}, {1}, 1}},
      {{2, 2, 6, 6}, {2, 2, 1, 1}, {{2}, {0}, {1}, 1}},
      {{2, 1, 7, 7}, {1, 1, 3, 2}, {{1, 2}, {2, 0}, {2, 1}, 1}},
  };
  for (const Case& c : cases) {
    for (DType dt : {DType::f32, DType::f64}) {
      Tensor x = test::randn(c.x, dt, 7);
      Conv2dGeom g = conv2d_geometry(x, Tensor::empty(c.w, dt), c.p);
      Tensor out = Tensor::empty(unfold_shape(g), dt);
      unfold(Stream::cpu(), out, x, g);
      std::vector<double> want = unfold_reference(x, g);
      EXPECT_EQ(test::as_doubles(out), want) << x.str();
      // The CUDA kernel's per-element index math, evaluated on the host.
      UnfoldIndex u = make_unfold_index(g);
      auto xv = test::as_doubles(x);
      for (int64_t i = 0; i < out.numel(); ++i) {
        int64_t src = u.source(i);
        ASSERT_EQ(src < 0 ? 0.0 : xv[size_t(src)], want[size_t(i)]) << i;
      }
    }
  }
}

TEST(DpsgdKernels, UnfoldRejectsBadInput) {
  Tensor x = test::randn({3, 2, 5, 5}, DType::f32, 1);
  Conv2dGeom g = conv2d_geometry(x, Tensor::empty({2, 2, 3, 3}, DType::f32), {});
  Tensor bad = Tensor::empty({3, 18, 8}, DType::f32);
  test::expect_error_mentioning([&] { unfold(Stream::cpu(), bad, x, g); }, "unfold: out");
  test::expect_error_mentioning([&] { unfold(Stream::cpu(), Tensor::empty(unfold_shape(g), DType::f64), x, g); },
                                "should have dtype F32");
  Conv2dGeom grouped = conv2d_geometry(x, Tensor::empty({2, 1, 3, 3}, DType::f32), {{1}, {0}, {1}, 2});
  Tensor out = Tensor::empty(unfold_shape(grouped), DType::f32);
  test::expect_error_mentioning([&] { unfold(Stream::cpu(), out, x, grouped); }, "groups 2");
}

TEST(DpsgdKernels, RowSquaredNormsAccumulate) {
  for (DType dt : {DType::f32, DType::f64}) {
    Tensor g = test::randn({5, 37}, dt, 3);
    Tensor out = Tensor::empty({5}, dt);
    row_sq_norm(Stream::cpu(), out, g, 0.0);
    Tensor g2 = test::randn({5, 4}, dt, 4);
    row_sq_norm(Stream::cpu(), out, g2, 1.0);
    auto a = test::as_doubles(g), b = test::as_doubles(g2), o = test::as_doubles(out);
    for (int r = 0; r < 5; ++r) {
      double want = 0;
      for (int j = 0; j < 37; ++j) want += a[size_t(r * 37 + j)] * a[size_t(r * 37 + j)];
      for (int j = 0; j < 4; ++j) want += b[size_t(r * 4 + j)] * b[size_t(r * 4 + j)];
      EXPECT_NEAR(o[size_t(r)], want, 1e-5 * want);
    }
  }
  Tensor g = test::randn({5, 3}, DType::f32, 3);
  test::expect_error_mentioning([&] { row_sq_norm(Stream::cpu(), Tensor::empty({4}, DType::f32), g, 0); },
                                "row_sq_norm: out");
  test::expect_error_mentioning([&] { row_sq_norm(Stream::cpu(), Tensor::empty({5}, DType::f32), g.flatten(), 0); },
                                "must be [B, n]");
}

TEST(DpsgdKernels, ClipFactorsFollowOpacusLessTheRoundingMargin) {
  Tensor sq = Tensor::from_vector<double>({0.0, 0.25, 1.0, 4.0, 100.0}, {5});
  Tensor f = Tensor::empty({5}, DType::f64);
  clip_factors(Stream::cpu(), f, sq, 1.0);
  auto v = f.to_vector<double>();
  const double keep = 1.0 - dp::clip_margin(0.0);
  EXPECT_EQ(v[0], 1.0);
  EXPECT_EQ(v[1], 1.0);
  EXPECT_DOUBLE_EQ(v[2], 1.0 / (1.0 + 1e-6) * keep);
  EXPECT_DOUBLE_EQ(v[3], 1.0 / (2.0 + 1e-6) * keep);
  EXPECT_DOUBLE_EQ(v[4], 1.0 / (10.0 + 1e-6) * keep);
  EXPECT_LT(v[4], 1.0 / (10.0 + 1e-6));
  // f32: the margin is 8 units of roundoff, so the stored factor is below Opacus's by about 5e-7 relative.
  Tensor f32 = Tensor::empty({5}, DType::f32);
  clip_factors(Stream::cpu(), f32, sq.to(DType::f32), 1.0);
  auto w = f32.to_vector<float>();
  EXPECT_EQ(w[1], 1.0f);
  for (int i : {2, 3, 4}) {
    EXPECT_LT(double(w[size_t(i)]), 1.0 / (std::sqrt(sq.to_vector<double>()[size_t(i)]) + 1e-6)) << i;
    EXPECT_NEAR(double(w[size_t(i)]), v[size_t(i)], 1e-6 * v[size_t(i)]) << i;
  }
  test::expect_error_mentioning([&] { clip_factors(Stream::cpu(), f, sq, 0.0); }, "clip norm");
}

// The sensitivity bound as summed: every clipped contribution f_b g_b, formed in f32 by the same GEMM the
// trainer's accumulation runs (one example's factor, the others' zero), has an L2 norm <= C computed in f64.
// Large norms are where Opacus's absolute 1e-6 margin is below f32 rounding; 400 examples of norms from 1e-2
// to 1e5 fail this without the margin of dp_sgd_math.h.
TEST(DpsgdKernels, EveryClippedContributionIsWithinTheClipNormInF32) {
  const int64_t B = 400, n = 300;
  const double C = 1.0;
  Tensor g = test::randn({B, n}, DType::f64, 17);
  auto gv = g.to_vector<double>();
  for (int64_t b = 0; b < B; ++b) {
    const double scale = std::pow(10.0, -2.0 + 7.0 * double(b) / double(B - 1)) / std::sqrt(double(n));
    for (int64_t j = 0; j < n; ++j) gv[size_t(b * n + j)] *= scale;
  }
  Tensor g32 = Tensor::from_vector(gv, {B, n}).to(DType::f32);
  Tensor sq = Tensor::empty({B}, DType::f32), f = Tensor::empty({B}, DType::f32);
  row_sq_norm(Stream::cpu(), sq, g32, 0.0);
  clip_factors(Stream::cpu(), f, sq, C);
  auto fv = f.to_vector<float>();
  int clipped = 0;
  double worst = 0;
  for (int64_t b = 0; b < B; ++b) {
    std::vector<float> one(size_t(B), 0.0f);
    one[size_t(b)] = fv[size_t(b)];
    Tensor c = Tensor::zeros({1, n}, DType::f32);
    gemm(Stream::cpu(), c, Tensor::from_vector(one, {1, B}), g32, false, false, 1.0, 0.0, "contribution");
    double norm2 = 0;
    for (float x : c.to_vector<float>()) norm2 += double(x) * double(x);
    worst = std::max(worst, std::sqrt(norm2) / C);
    EXPECT_LE(std::sqrt(norm2), C) << "example " << b << " factor " << fv[size_t(b)];
    clipped += fv[size_t(b)] < 1.0f ? 1 : 0;
  }
  EXPECT_GT(clipped, B / 2);
  EXPECT_LT(clipped, B);
  EXPECT_GT(worst, 1.0 - 1e-5);  // the bound is tight, not met by clipping far below C
}

TEST(DpsgdKernels, GaussianNoiseIsDeterministicStandardAndKeyed) {
  const int64_t n = 200001;  // odd: the last pair contributes one value
  auto draw = [&](uint64_t key, uint64_t id, double stddev) {
    Tensor y = Tensor::zeros({n}, DType::f64);
    add_gaussian_noise(Stream::cpu(), y, stddev, key, id);
    return y.to_vector<double>();
  };
  auto a = draw(11, 5, 1.0);
  EXPECT_EQ(a, draw(11, 5, 1.0));
  double mean = 0, var = 0, skew = 0, kurt = 0;
  for (double v : a) mean += v;
  mean /= double(n);
  for (double v : a) {
    double d = v - mean;
    var += d * d;
    skew += d * d * d;
    kurt += d * d * d * d;
  }
  var /= double(n);
  skew /= double(n) * std::pow(var, 1.5);
  kurt /= double(n) * var * var;
  EXPECT_NEAR(mean, 0.0, 5.0 / std::sqrt(double(n)));
  EXPECT_NEAR(var, 1.0, 0.015);
  EXPECT_NEAR(skew, 0.0, 0.03);
  EXPECT_NEAR(kurt, 3.0, 0.06);
  // Another stream id or key gives uncorrelated values; stddev scales.
  for (auto other : {draw(11, 6, 1.0), draw(12, 5, 1.0)}) {
    double c = 0;
    for (int64_t i = 0; i < n; ++i) c += a[size_t(i)] * other[size_t(i)];
    EXPECT_NEAR(c / double(n), 0.0, 5.0 / std::sqrt(double(n)));
  }
  auto s3 = draw(11, 5, 3.0);
  for (int64_t i = 0; i < 1000; ++i) EXPECT_NEAR(s3[size_t(i)], 3.0 * a[size_t(i)], 1e-12);
  // Values follow dp::gaussian_pair exactly (the GPU uses the same function).
  double z0, z1;
  dp::gaussian_pair(11, 5, 7, z0, z1);
  EXPECT_EQ(a[14], z0);
  EXPECT_EQ(a[15], z1);
  // Adding accumulates.
  Tensor y = Tensor::full({4}, 2.0, DType::f32);
  add_gaussian_noise(Stream::cpu(), y, 0.0, 1, 1);
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{2, 2, 2, 2}));
  test::expect_error_mentioning([&] { add_gaussian_noise(Stream::cpu(), y, -1.0, 1, 1); }, "stddev");
}
