// matmul, linear and the gemm kernel: values against naive triple loops (2-D, batched, transposes,
// alpha/beta, bf16), gradient checks in f64, GEMM-beta accumulation, bad input.
#include <cmath>
#include <limits>

#include "kernels/bias.h"
#include "kernels/matmul.h"
#include "nn/ops_matmul.h"
#include "tests/test_util.h"

using namespace sp;
using namespace sp::ag;
using namespace sp::test;

SP_GRAD_TESTED(matmul);
SP_GRAD_TESTED(linear);

namespace {

// C[b] = op(A[b]) op(B[b]) in double, 2-D or 3-D.
Tensor naive_gemm(const Tensor& a, const Tensor& b, bool ta, bool tb) {
  Tensor a3 = a.dim() == 2 ? a.unsqueeze(0) : a, b3 = b.dim() == 2 ? b.unsqueeze(0) : b;
  int64_t batch = a3.size(0), m = ta ? a3.size(2) : a3.size(1), k = ta ? a3.size(1) : a3.size(2);
  int64_t n = tb ? b3.size(1) : b3.size(2);
  auto av = as_doubles(a3), bv = as_doubles(b3);
  std::vector<double> c(size_t(batch * m * n));
  for (int64_t q = 0; q < batch; ++q)
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double acc = 0;
        for (int64_t l = 0; l < k; ++l) {
          double x = ta ? av[size_t((q * k + l) * m + i)] : av[size_t((q * m + i) * k + l)];
          double y = tb ? bv[size_t((q * n + j) * k + l)] : bv[size_t((q * k + l) * n + j)];
          acc += x * y;
        }
        c[size_t((q * m + i) * n + j)] = acc;
      }
  Tensor out = Tensor::from_vector(c, {batch, m, n});
  return a.dim() == 2 ? out.select(0, 0).contiguous() : out;
}

}  // namespace

TEST(OpsMatmul, GemmMatchesNaiveWithTransposes) {
  for (DType dt : {DType::f32, DType::f64})
    for (bool ta : {false, true})
      for (bool tb : {false, true}) {
        int64_t m = 7, k = 5, n = 9;
        Tensor a = randn(ta ? Shape{k, m} : Shape{m, k}, dt, 1), b = randn(tb ? Shape{n, k} : Shape{k, n}, dt, 2);
        Tensor c = Tensor::full({m, n}, std::numeric_limits<double>::quiet_NaN(), dt);  // beta 0: never read
        gemm(Stream::cpu(), c, a, b, ta, tb);
        EXPECT_TRUE(all_close(c, naive_gemm(a, b, ta, tb), 1e-5, 1e-5)) << ta << tb;
      }
}

TEST(OpsMatmul, GemmAlphaBetaAndBatch) {
  Tensor a = randn({3, 4, 6}, DType::f64, 3), b = randn({3, 6, 2}, DType::f64, 4);
  Tensor c0 = randn({3, 4, 2}, DType::f64, 5), c = c0.clone();
  gemm(Stream::cpu(), c, a, b, false, false, 0.5, 2.0);
  auto want = as_doubles(naive_gemm(a, b, false, false)), old = as_doubles(c0), got = as_doubles(c);
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], 0.5 * want[i] + 2.0 * old[i], 1e-12);
}

TEST(OpsMatmul, GemmEmptyInnerDimensionScalesByBeta) {
  Tensor a = Tensor::zeros({2, 0}, DType::f64), b = Tensor::zeros({0, 3}, DType::f64);
  Tensor c = Tensor::full({2, 3}, 4.0, DType::f64);
  gemm(Stream::cpu(), c, a, b, false, false, 1.0, 0.5);
  EXPECT_EQ(c.to_vector<double>(), std::vector<double>(6, 2.0));
  gemm(Stream::cpu(), c, a, b, false, false, 1.0, 0.0);
  EXPECT_EQ(c.to_vector<double>(), std::vector<double>(6, 0.0));
}

TEST(OpsMatmul, GemmBf16AccumulatesInFloat) {
  Tensor a = randn({16, 32}, DType::f32, 6), b = randn({32, 8}, DType::f32, 7);
  Tensor ab = a.to(DType::bf16), bb = b.to(DType::bf16);
  Tensor c = Tensor::empty({16, 8}, DType::bf16);
  gemm(Stream::cpu(), c, ab, bb, false, false);
  // Reference from the bf16-rounded inputs; the only further error is the bf16 rounding of the output.
  EXPECT_TRUE(all_close(c, naive_gemm(ab.to(DType::f64), bb.to(DType::f64), false, false), 1e-2, 1e-2));
}

TEST(OpsMatmul, MatmulForward2dAnd3d) {
  for (DType dt : {DType::f32, DType::f64}) {
    Tape t(Stream::cpu());
    Tensor a = randn({5, 3}, dt, 8), b = randn({3, 4}, dt, 9);
    Var c = matmul(t, t.leaf(a), t.leaf(b));
    EXPECT_TRUE(all_close(t.value(c), naive_gemm(a, b, false, false), 1e-6, 1e-6));
    Tensor a3 = randn({2, 5, 3}, dt, 10), b3 = randn({2, 3, 4}, dt, 11);
    Var c3 = matmul(t, t.leaf(a3), t.leaf(b3));
    EXPECT_TRUE(all_close(t.value(c3), naive_gemm(a3, b3, false, false), 1e-6, 1e-6));
  }
}

TEST(OpsMatmul, MatmulOfTransposedView) {
  Tape t(Stream::cpu());
  Tensor a = randn({3, 5}, DType::f64, 12), b = randn({3, 4}, DType::f64, 13);
  Var c = matmul(t, t.leaf(a.transpose(0, 1)), t.leaf(b));  // non-contiguous input is copied
  EXPECT_TRUE(all_close(t.value(c), naive_gemm(a, b, true, false), 1e-12, 1e-12));
}

TEST(OpsMatmul, LinearForwardWithBias) {
  Tape t(Stream::cpu());
  Tensor x = randn({2, 3, 5}, DType::f64, 14), w = randn({4, 5}, DType::f64, 15), b = randn({4}, DType::f64, 16);
  Var y = linear(t, t.leaf(x), t.leaf(w), t.leaf(b));
  ASSERT_EQ(t.value(y).shape(), (Shape{2, 3, 4}));
  auto want = as_doubles(naive_gemm(x.reshape({6, 5}), w, false, true)), bv = as_doubles(b);
  auto got = as_doubles(t.value(y));
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i] + bv[i % 4], 1e-12);
  Var y0 = linear(t, t.leaf(x), t.leaf(w));
  EXPECT_TRUE(all_close(t.value(y0), naive_gemm(x.reshape({6, 5}), w, false, true).reshape({2, 3, 4}), 1e-12, 1e-12));
}

TEST(OpsMatmul, MatmulGradient) {
  check_gradients({randn({4, 3}, DType::f64, 17), randn({3, 5}, DType::f64, 18)}, {true, true},
                  [](Tape& t, const std::vector<Var>& v) { return matmul(t, v[0], v[1]); });
  check_gradients({randn({2, 4, 3}, DType::f64, 19), randn({2, 3, 5}, DType::f64, 20)}, {true, true},
                  [](Tape& t, const std::vector<Var>& v) { return matmul(t, v[0], v[1]); });
}

TEST(OpsMatmul, LinearGradient) {
  check_gradients({randn({6, 5}, DType::f64, 21), randn({3, 5}, DType::f64, 22), randn({3}, DType::f64, 23)},
                  {true, true, true},
                  [](Tape& t, const std::vector<Var>& v) { return linear(t, v[0], v[1], v[2]); });
  check_gradients({randn({2, 2, 5}, DType::f64, 24), randn({3, 5}, DType::f64, 25)}, {true, true},
                  [](Tape& t, const std::vector<Var>& v) { return linear(t, v[0], v[1]); });
}

TEST(OpsMatmul, GradientsAccumulateWhenAnInputIsReused) {
  // y = x w^T uses w twice through two linear calls on one tape; both contributions must add up.
  Tape t(Stream::cpu());
  Tensor x = randn({4, 3}, DType::f64, 26), w = randn({2, 3}, DType::f64, 27);
  Var xv = t.leaf(x), wv = t.leaf(w, true);
  Var y1 = linear(t, xv, wv);
  Var y2 = linear(t, y1, t.leaf(Tensor::full({2, 2}, 1.0, DType::f64)));  // feeds y1 forward
  Var y3 = matmul(t, y2, wv);                                             // [4,2] x [2,3]: w used again
  Tensor seed = Tensor::full({4, 3}, 1.0, DType::f64);
  Tensor g = t.grad(y3, {wv}, &seed)[0];
  // Closed form: y3 = (x w^T J) w with J = ones(2, 2); d/dw of sum(y3) by finite differences.
  double eps = 1e-6;
  auto f = [&](const Tensor& wt) {
    Tape u(Stream::cpu());
    Var a = linear(u, u.leaf(x), u.leaf(wt));
    Var b = linear(u, a, u.leaf(Tensor::full({2, 2}, 1.0, DType::f64)));
    auto r = u.value(matmul(u, b, u.leaf(wt))).to_vector<double>();
    double s = 0;
    for (double v : r) s += v;
    return s;
  };
  auto gv = g.to_vector<double>();
  for (int64_t i = 0; i < w.numel(); ++i) {
    Tensor wp = w.clone(), wm = w.clone();
    wp.data<double>()[i] += eps;
    wm.data<double>()[i] -= eps;
    EXPECT_NEAR(gv[size_t(i)], (f(wp) - f(wm)) / (2 * eps), 1e-6);
  }
}

TEST(OpsMatmul, BiasGradientKernelAccumulates) {
  Tensor gy = randn({3, 4, 5}, DType::f64, 28), db = Tensor::full({4}, 1.0, DType::f64);
  channel_bias_grad(Stream::cpu(), db, gy, 2.0, "test");
  auto g = gy.to_vector<double>(), d = db.to_vector<double>();
  for (int c = 0; c < 4; ++c) {
    double s = 0;
    for (int n = 0; n < 3; ++n)
      for (int i = 0; i < 5; ++i) s += g[size_t((n * 4 + c) * 5 + i)];
    EXPECT_NEAR(d[size_t(c)], s + 2.0, 1e-12);
  }
}

TEST(OpsMatmul, BadInputThrowsNamingOpAndShapes) {
  Tape t(Stream::cpu());
  Var a = t.leaf(randn({2, 3}, DType::f64, 1)), b = t.leaf(randn({4, 5}, DType::f64, 2));
  try {
    matmul(t, a, b);
    FAIL() << "inner mismatch accepted";
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("matmul"), std::string::npos) << m;
    EXPECT_NE(m.find("[2, 3]"), std::string::npos) << m;
    EXPECT_NE(m.find("[4, 5]"), std::string::npos) << m;
  }
  EXPECT_THROW(matmul(t, a, t.leaf(randn({3}, DType::f64, 3))), Error);                  // rank
  EXPECT_THROW(matmul(t, a, t.leaf(randn({3, 2}, DType::f32, 3))), Error);               // dtype
  EXPECT_THROW(matmul(t, t.leaf(randn({2, 2, 3}, DType::f64, 3)), t.leaf(randn({3, 3, 2}, DType::f64, 4))), Error);
  EXPECT_THROW(linear(t, a, t.leaf(randn({4, 2}, DType::f64, 5))), Error);               // in features
  EXPECT_THROW(linear(t, a, t.leaf(randn({4, 3}, DType::f64, 5)), t.leaf(randn({3}, DType::f64, 6))), Error);
  EXPECT_THROW(matmul(t, t.leaf(Tensor::zeros({2, 3}, DType::i32)), t.leaf(Tensor::zeros({3, 2}, DType::i32))),
               Error);
  Tensor c = Tensor::empty({2, 4}, DType::f64);
  EXPECT_THROW(gemm(Stream::cpu(), c, randn({2, 3}, DType::f64, 1), randn({3, 5}, DType::f64, 2), false, false),
               Error);  // wrong output shape
}
