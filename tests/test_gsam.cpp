// GSAM (nn/gsam.h) on a quadratic L(w) = 1/2 w^T A w - b^T w, whose gradient A w - b is exact, against a
// scalar reference written from the GSAM update rule with std::vector<double>: adaptive and non-adaptive
// perturbations, the point of the second gradient, the optimiser's input (SGD and Adam), the reduction to
// plain SGD at rho = alpha = 0, bit-exact restoration of w, f32, and bad input.
#include "nn/gsam.h"

#include "tests/test_util.h"

using namespace sp;
using namespace sp::test;

namespace {

constexpr int64_t kP = 9;

struct Quadratic {
  std::vector<double> a, b;  // A symmetric positive definite [P, P], b [P]
  Quadratic() : a(size_t(kP * kP)), b(as_doubles(randn({kP}, DType::f64, 5))) {
    std::vector<double> m = as_doubles(randn({kP, kP}, DType::f64, 3, 0.5));
    for (int64_t i = 0; i < kP; ++i)
      for (int64_t j = 0; j < kP; ++j) {
        double v = i == j ? 1.0 : 0.0;
        for (int64_t k = 0; k < kP; ++k) v += m[size_t(k * kP + i)] * m[size_t(k * kP + j)];
        a[size_t(i * kP + j)] = v;
      }
  }
  std::vector<double> grad(const std::vector<double>& w) const {
    std::vector<double> g(static_cast<size_t>(kP));
    for (int64_t i = 0; i < kP; ++i) {
      g[size_t(i)] = -b[size_t(i)];
      for (int64_t j = 0; j < kP; ++j) g[size_t(i)] += a[size_t(i * kP + j)] * w[size_t(j)];
    }
    return g;
  }
  double loss(const std::vector<double>& w) const {
    std::vector<double> g = grad(w);  // A w - b
    double l = 0;
    for (int64_t i = 0; i < kP; ++i) l += 0.5 * w[size_t(i)] * (g[size_t(i)] - b[size_t(i)]);
    return l;
  }
};

double dot(const std::vector<double>& x, const std::vector<double>& y) {
  double s = 0;
  for (size_t i = 0; i < x.size(); ++i) s += x[i] * y[i];
  return s;
}

// The GSAM reference, step by step as in the paper's code: returns the perturbation e and the final gradient.
struct RefStep {
  std::vector<double> e, final_grad;
};
RefStep reference(const Quadratic& q, const std::vector<double>& w, const GsamConfig& c) {
  std::vector<double> g = q.grad(w);
  RefStep r;
  double norm = 0;
  for (int64_t i = 0; i < kP; ++i) {
    const double v = c.adaptive ? std::abs(w[size_t(i)]) * g[size_t(i)] : g[size_t(i)];
    norm += v * v;
  }
  norm = std::sqrt(norm);
  std::vector<double> wp = w;
  for (int64_t i = 0; i < kP; ++i) {
    double e = c.rho / (norm + 1e-12) * g[size_t(i)];
    if (c.adaptive) e *= w[size_t(i)] * w[size_t(i)];
    r.e.push_back(e);
    wp[size_t(i)] += e;
  }
  std::vector<double> gp = q.grad(wp);
  const double ng = std::sqrt(dot(g, g)), ngp = std::sqrt(dot(gp, gp));
  const double cosine = dot(g, gp) / (ng * ngp + 1e-12);
  for (int64_t i = 0; i < kP; ++i) {
    const double vertical = g[size_t(i)] - cosine * ng * gp[size_t(i)] / (ngp + 1e-12);
    r.final_grad.push_back(gp[size_t(i)] - c.alpha * vertical);
  }
  return r;
}

// A gradient callback for the quadratic that, like a model's gradient buffer, reuses one output tensor, and
// records every point it was asked about.
struct Callback {
  const Quadratic& q;
  DType dt;
  Tensor out = Tensor::empty({kP}, dt);
  std::vector<std::vector<double>> seen;
  Tensor operator()(const Tensor& theta, double* loss) {
    std::vector<double> w = as_doubles(theta);
    seen.push_back(w);
    *loss = q.loss(w);
    out.copy_(Tensor::from_vector(q.grad(w), {kP}));
    return out;
  }
};

OptimConfig plain_sgd() { return OptimConfig{}; }

void check_one_step(const GsamConfig& c, const OptimConfig& oc) {
  Quadratic q;
  Tensor w = randn({kP}, DType::f64, 9, 0.8, 0.3);
  const std::vector<double> w0 = as_doubles(w);
  const double lr = 0.05;
  Stream& s = Stream::cpu();
  auto opt = make_optimizer(oc, w, s);
  Callback cb{q, DType::f64};
  const double loss = gsam_step(s, *opt, w, lr, c, std::ref(cb));
  EXPECT_NEAR(loss, q.loss(w0), 1e-14);

  RefStep r = reference(q, w0, c);
  ASSERT_EQ(cb.seen.size(), 2u);
  EXPECT_EQ(cb.seen[0], w0);
  for (int64_t i = 0; i < kP; ++i) EXPECT_NEAR(cb.seen[1][size_t(i)], w0[size_t(i)] + r.e[size_t(i)], 1e-15) << i;
  double e_norm = 0;
  for (double e : r.e) e_norm += e * e;
  EXPECT_GT(std::sqrt(e_norm), 1e-4);  // the perturbation is not negligible

  // The same optimiser fed the reference's final gradient at the restored w0 lands on the same parameters.
  Tensor expect = Tensor::from_vector(w0, {kP});
  auto ref_opt = make_optimizer(oc, expect, s);
  ref_opt->step(s, expect, Tensor::from_vector(r.final_grad, {kP}), lr);
  EXPECT_TRUE(all_close(w, expect, 1e-12, 1e-14));
  if (oc.kind == OptimKind::sgd && oc.momentum == 0)
    for (int64_t i = 0; i < kP; ++i)
      EXPECT_NEAR(w.item({i}), w0[size_t(i)] - lr * r.final_grad[size_t(i)], 1e-14) << i;
}

}  // namespace

TEST(Gsam, AdaptiveStepMatchesTheReference) {
  check_one_step({.rho = 0.05, .alpha = 0.3, .adaptive = true}, plain_sgd());
}

TEST(Gsam, NonAdaptiveStepMatchesTheReference) {
  check_one_step({.rho = 0.05, .alpha = 0.3, .adaptive = false}, plain_sgd());
  check_one_step({.rho = 0.2, .alpha = 0.7, .adaptive = false}, plain_sgd());
}

TEST(Gsam, FeedsTheFinalGradientToAnyOptimizer) {
  OptimConfig adam;
  adam.kind = OptimKind::adam;
  check_one_step({}, adam);
  OptimConfig momentum;
  momentum.momentum = 0.9;
  check_one_step({.rho = 0.05}, momentum);
}

// rho = 0 and alpha = 0: the perturbation vanishes and the step is exactly plain SGD with g.
TEST(Gsam, ZeroRhoAndAlphaIsPlainSgd) {
  Quadratic q;
  Stream& s = Stream::cpu();
  for (bool adaptive : {true, false}) {
    Tensor w = randn({kP}, DType::f64, 13);
    Tensor plain = w.clone();
    Sgd opt(plain_sgd(), w, s), opt2(plain_sgd(), plain, s);
    Callback cb{q, DType::f64};
    gsam_step(s, opt, w, 0.1, {.rho = 0.0, .alpha = 0.0, .adaptive = adaptive}, std::ref(cb));
    EXPECT_EQ(cb.seen[1], cb.seen[0]);
    opt2.step(s, plain, Tensor::from_vector(q.grad(as_doubles(plain)), {kP}), 0.1);
    EXPECT_TRUE(all_close(w, plain, 0, 0));
  }
}

// With lr = 0 the optimiser leaves w alone, so w after the step must be w before it bit for bit: the
// perturbation is undone exactly, not by a subtraction that can round.
TEST(Gsam, RestoresTheParametersExactly) {
  Quadratic q;
  Stream& s = Stream::cpu();
  for (DType dt : {DType::f64, DType::f32}) {
    Tensor w = randn({kP}, dt, 17, 3.0, 0.1);
    Tensor w0 = w.clone();
    Sgd opt(plain_sgd(), w, s);
    Callback cb{q, dt};
    gsam_step(s, opt, w, 0.0, {.rho = 0.3}, std::ref(cb));
    EXPECT_NE(as_doubles(w0), cb.seen[1]);
    EXPECT_TRUE(all_close(w, w0, 0, 0));
  }
}

TEST(Gsam, Float32FollowsTheReference) {
  Quadratic q;
  Stream& s = Stream::cpu();
  Tensor w = randn({kP}, DType::f32, 19, 0.8, 0.3);
  const std::vector<double> w0 = as_doubles(w);
  Sgd opt(plain_sgd(), w, s);
  Callback cb{q, DType::f32};
  gsam_step(s, opt, w, 0.05, {}, std::ref(cb));
  RefStep r = reference(q, w0, {});
  std::vector<double> expect(static_cast<size_t>(kP));
  for (int64_t i = 0; i < kP; ++i) expect[size_t(i)] = w0[size_t(i)] - 0.05 * r.final_grad[size_t(i)];
  EXPECT_TRUE(all_close(w, Tensor::from_vector(expect, {kP}), 1e-5, 1e-6));
}

TEST(Gsam, RejectsBadInput) {
  Quadratic q;
  Stream& s = Stream::cpu();
  Tensor w = randn({kP}, DType::f64, 23);
  Tensor w0 = w.clone();
  Sgd opt(plain_sgd(), w, s);
  auto wrong_shape = [](const Tensor&, double* loss) {
    *loss = 0;
    return Tensor::zeros({kP + 1}, DType::f64);
  };
  expect_error_mentioning([&] { gsam_step(s, opt, w, 0.1, {}, wrong_shape); }, "gsam_step");
  expect_error_mentioning([&] { gsam_step(s, opt, w, 0.1, {.rho = -1}, Callback{q, DType::f64}); }, "rho");
  // A non-finite gradient at the perturbed point throws with w restored and no step taken.
  int calls = 0;
  auto nan_second = [&](const Tensor& theta, double* loss) {
    *loss = 0;
    std::vector<double> g = q.grad(as_doubles(theta));
    if (++calls == 2) g[0] = std::nan("");
    return Tensor::from_vector(g, {kP});
  };
  expect_error_mentioning([&] { gsam_step(s, opt, w, 0.1, {}, nan_second); }, "non-finite");
  EXPECT_TRUE(all_close(w, w0, 0, 0));
  EXPECT_EQ(opt.steps(), 0);
  // An exception from the callback itself also leaves w restored.
  calls = 0;
  auto throws_second = [&](const Tensor& theta, double* loss) -> Tensor {
    *loss = 0;
    if (++calls == 2) SP_FAIL("callback failed");
    return Tensor::from_vector(q.grad(as_doubles(theta)), {kP});
  };
  expect_error_mentioning([&] { gsam_step(s, opt, w, 0.1, {}, throws_second); }, "callback failed");
  EXPECT_TRUE(all_close(w, w0, 0, 0));
}
