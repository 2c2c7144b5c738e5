// log_softmax, softmax, cross_entropy (hard labels with and without label smoothing, soft targets), kl_div
// (T = 1 and 4) and mse_loss: values against naive f64 formulas written here, f64 gradient checks for every input
// (including inputs used twice, so gradients accumulate), second-order checks of the differentiable
// backwards (the same cases), +-1000 logits (finite losses and gradients, first and second order), and bad
// input.
#include <cmath>

#include "kernels/loss.h"
#include "kernels/softmax.h"
#include "nn/ops_loss.h"
#include "tests/test_util.h"

using namespace sp;
using namespace sp::ag;
using namespace sp::test;

SP_GRAD_TESTED(log_softmax);
SP_GRAD_TESTED(softmax);
SP_GRAD_TESTED(cross_entropy);
SP_GRAD_TESTED(kl_div);
SP_GRAD_TESTED(mse_loss);
SP_GRAD2_TESTED(log_softmax);
SP_GRAD2_TESTED(softmax);
SP_GRAD2_TESTED(cross_entropy);
SP_GRAD2_TESTED(kl_div);
SP_GRAD2_TESTED(mse_loss);

namespace {

using Vec = std::vector<double>;
Vec vec(const Tensor& t) { return as_doubles(t); }

// Naive log-softmax of row r of an [R, C] array (the max shift keeps exp finite).
Vec naive_log_softmax_row(const Vec& x, int64_t r, int64_t C) {
  double m = -INFINITY;
  for (int64_t j = 0; j < C; ++j) m = std::max(m, x[r * C + j]);
  double s = 0;
  for (int64_t j = 0; j < C; ++j) s += std::exp(x[r * C + j] - m);
  Vec out(static_cast<size_t>(C));
  for (int64_t j = 0; j < C; ++j) out[j] = x[r * C + j] - m - std::log(s);
  return out;
}

double naive_ce_hard(const Vec& x, const std::vector<int64_t>& y, int64_t N, int64_t C, double eps) {
  double total = 0;
  for (int64_t i = 0; i < N; ++i) {
    Vec lp = naive_log_softmax_row(x, i, C);
    double mean_nll = 0;
    for (double v : lp) mean_nll -= v / double(C);
    total += (1 - eps) * -lp[y[i]] + eps * mean_nll;
  }
  return total / double(N);
}

double naive_ce_soft(const Vec& x, const Vec& t, int64_t N, int64_t C, double eps) {
  double total = 0;
  for (int64_t i = 0; i < N; ++i) {
    Vec lp = naive_log_softmax_row(x, i, C);
    for (int64_t j = 0; j < C; ++j) total -= ((1 - eps) * t[i * C + j] + eps / double(C)) * lp[j];
  }
  return total / double(N);
}

double naive_kl(const Vec& s, const Vec& t, int64_t N, int64_t C, double T) {
  Vec ss(s.size()), ts(t.size());
  for (size_t k = 0; k < s.size(); ++k) {
    ss[k] = s[k] / T;
    ts[k] = t[k] / T;
  }
  double total = 0;
  for (int64_t i = 0; i < N; ++i) {
    Vec lp = naive_log_softmax_row(ss, i, C), lq = naive_log_softmax_row(ts, i, C);
    for (int64_t j = 0; j < C; ++j) total += std::exp(lq[j]) * (lq[j] - lp[j]);
  }
  return total / double(N) * T * T;
}

Tensor labels_of(const std::vector<int64_t>& y) { return Tensor::from_vector(y, {int64_t(y.size())}); }

double scalar(Tape& t, Var v) {
  EXPECT_EQ(t.value(v).dim(), 0) << "losses are 0-dim";
  return t.value(v).item();
}

}  // namespace

TEST(OpsLoss, LogSoftmaxMatchesNaive) {
  for (Shape shape : {Shape{3, 5}, Shape{2, 3, 4}, Shape{4, 1}, Shape{7}}) {
    Tensor x = randn(shape, DType::f64, 1, 3.0);
    Tape t(Stream::cpu());
    Var y = log_softmax(t, t.leaf(x));
    const int64_t C = shape.back(), R = shape.numel() / C;
    Vec want;
    for (int64_t r = 0; r < R; ++r)
      for (double v : naive_log_softmax_row(vec(x), r, C)) want.push_back(v);
    EXPECT_TRUE(all_close(t.value(y), Tensor::from_vector(want, shape), 1e-14, 1e-14)) << shape;
  }
}

TEST(OpsLoss, CrossEntropyHandComputed) {
  Tape t(Stream::cpu());
  // Two equal logits: -log(1/2); smoothing does not change a uniform row.
  Var x = t.leaf(Tensor::from_vector<double>({0, 0}, {1, 2}));
  EXPECT_DOUBLE_EQ(scalar(t, cross_entropy(t, x, labels_of({1}))), std::log(2.0));
  EXPECT_DOUBLE_EQ(scalar(t, cross_entropy(t, x, labels_of({0}), 0.3)), std::log(2.0));
  // logits (log 1, log 3): p = (1/4, 3/4); eps = 0.2: 0.8 * -log(1/4) + 0.2 * (-log(1/4) - log(3/4)) / 2.
  Var z = t.leaf(Tensor::from_vector<double>({0, std::log(3.0)}, {1, 2}));
  const double want = 0.8 * std::log(4.0) + 0.1 * (std::log(4.0) + std::log(4.0 / 3.0));
  EXPECT_NEAR(scalar(t, cross_entropy(t, z, labels_of({0}), 0.2)), want, 1e-15);
}

TEST(OpsLoss, CrossEntropyMatchesNaive) {
  const int64_t N = 6, C = 5;
  Tensor x = randn({N, C}, DType::f64, 2, 2.0);
  std::vector<int64_t> y = {0, 4, 2, 2, 1, 3};
  Tensor tg = rand_uniform({N, C}, DType::f64, 3, 0.0, 1.0);
  for (double eps : {0.0, 0.1, 1.0}) {
    Tape t(Stream::cpu());
    EXPECT_NEAR(scalar(t, cross_entropy(t, t.leaf(x), labels_of(y), eps)), naive_ce_hard(vec(x), y, N, C, eps), 1e-13);
    EXPECT_NEAR(scalar(t, cross_entropy(t, t.leaf(x), t.leaf(tg), eps)), naive_ce_soft(vec(x), vec(tg), N, C, eps),
                1e-13);
    // Soft one-hot targets reproduce hard labels, smoothing included (as in PyTorch).
    Vec onehot(size_t(N * C), 0.0);
    for (int64_t i = 0; i < N; ++i) onehot[i * C + y[i]] = 1.0;
    EXPECT_NEAR(scalar(t, cross_entropy(t, t.leaf(x), t.leaf(Tensor::from_vector(onehot, {N, C})), eps)),
                scalar(t, cross_entropy(t, t.leaf(x), labels_of(y), eps)), 1e-14);
  }
  Tape t(Stream::cpu());
  Var xf = t.leaf(x.to(DType::f32));
  EXPECT_NEAR(scalar(t, cross_entropy(t, xf, labels_of(y), 0.1)), naive_ce_hard(vec(x), y, N, C, 0.1), 1e-5);
}

TEST(OpsLoss, KlDivAndMseMatchNaive) {
  const int64_t N = 4, C = 7;
  Tensor s = randn({N, C}, DType::f64, 4, 2.0), te = randn({N, C}, DType::f64, 5, 3.0);
  for (double T : {1.0, 4.0}) {
    Tape t(Stream::cpu());
    EXPECT_NEAR(scalar(t, kl_div(t, t.leaf(s), t.leaf(te), T)), naive_kl(vec(s), vec(te), N, C, T), 1e-13) << T;
    EXPECT_NEAR(scalar(t, kl_div(t, t.leaf(s), t.leaf(s), T)), 0.0, 1e-15) << T;
  }
  Tape t(Stream::cpu());
  double want = 0;
  Vec a = vec(s), b = vec(te);
  for (size_t k = 0; k < a.size(); ++k) want += (a[k] - b[k]) * (a[k] - b[k]) / double(a.size());
  EXPECT_NEAR(scalar(t, mse_loss(t, t.leaf(s), t.leaf(te))), want, 1e-13);
  EXPECT_EQ(scalar(t, mse_loss(t, t.leaf(Tensor::from_vector<float>({1, 2, 3}, {3})),
                               t.leaf(Tensor::from_vector<float>({1, 0, 0}, {3})))),
            double(float(13.0 / 3.0)));
}

TEST(OpsLoss, LogSoftmaxGradient) {
  check_gradients({randn({3, 5}, DType::f64, 10, 2.0)}, {true},
                  [](Tape& t, const std::vector<Var>& v) { return log_softmax(t, v[0]); });
  // x reaches the loss along two paths, so its gradient accumulates (beta = 1 on the second write).
  check_gradients({randn({2, 3, 4}, DType::f64, 11)}, {true},
                  [](Tape& t, const std::vector<Var>& v) { return mse_loss(t, log_softmax(t, v[0]), v[0]); });
}

TEST(OpsLoss, CrossEntropyGradient) {
  Tensor x = randn({5, 4}, DType::f64, 12, 2.0);
  Tensor y = labels_of({3, 0, 1, 1, 2});
  for (double eps : {0.0, 0.1}) {
    check_gradients({x}, {true}, [&](Tape& t, const std::vector<Var>& v) { return cross_entropy(t, v[0], y, eps); });
    check_gradients({x, rand_uniform({5, 4}, DType::f64, 13, 0.0, 1.0)}, {true, true},
                    [&](Tape& t, const std::vector<Var>& v) { return cross_entropy(t, v[0], v[1], eps); });
  }
  // Same tensor as logits and (unnormalised, learned) targets: both gradients land on one input.
  check_gradients({x}, {true}, [](Tape& t, const std::vector<Var>& v) { return cross_entropy(t, v[0], v[0], 0.2); });
  // Through log_softmax: hard CE of log-probabilities equals CE of the logits.
  check_gradients({x}, {true},
                  [&](Tape& t, const std::vector<Var>& v) { return cross_entropy(t, log_softmax(t, v[0]), y, 0.05); });
}

TEST(OpsLoss, KlDivAndMseGradient) {
  Tensor s = randn({4, 6}, DType::f64, 14, 2.0), te = randn({4, 6}, DType::f64, 15, 3.0);
  for (double T : {1.0, 4.0}) {
    check_gradients({s, te}, {true, true},
                    [T](Tape& t, const std::vector<Var>& v) { return kl_div(t, v[0], v[1], T); });
    check_gradients({s}, {true},
                    [T](Tape& t, const std::vector<Var>& v) { return kl_div(t, v[0], log_softmax(t, v[0]), T); });
  }
  check_gradients({s, te}, {true, true}, [](Tape& t, const std::vector<Var>& v) { return mse_loss(t, v[0], v[1]); });
  check_gradients({s, te}, {false, true}, [](Tape& t, const std::vector<Var>& v) { return mse_loss(t, v[0], v[1]); });
}

TEST(OpsLoss, GradientsAccumulateThroughOverlappingViews) {
  // Inputs are overlapping views of one flat vector: each backward adds (beta = 1) its gradients into the
  // shared buffer, so an overwrite would lose an earlier contribution where the views overlap. Both
  // orders, since which write lands first depends on it.
  Tensor theta = randn({30}, DType::f64, 16, 1.5);
  for (int64_t first : {0, 6}) {
    auto pair = [first](Tape& t, Var th) {
      return std::pair{t.view(th, first, {4, 6}), t.view(th, 6 - first, {4, 6})};
    };
    check_gradients({theta}, {true}, [&](Tape& t, const std::vector<Var>& v) {
      auto [a, b] = pair(t, v[0]);
      return mse_loss(t, a, b);
    });
    check_gradients({theta}, {true}, [&](Tape& t, const std::vector<Var>& v) {
      auto [a, b] = pair(t, v[0]);
      return kl_div(t, a, b, 2.0);
    });
    check_gradients({theta}, {true}, [&](Tape& t, const std::vector<Var>& v) {
      auto [a, b] = pair(t, v[0]);
      return cross_entropy(t, a, b, 0.1);
    });
  }
  // Hard labels: the loss is compared (mse) with one element of its own logits, whose gradient from the
  // mse node must survive the cross-entropy backward.
  Tensor y = labels_of({1, 0, 5, 2, 3});
  check_gradients({randn({30}, DType::f64, 17, 1.5)}, {true}, [&](Tape& t, const std::vector<Var>& v) {
    return mse_loss(t, cross_entropy(t, t.view(v[0], 0, {5, 6}), y, 0.1), t.view(v[0], 3, {}));
  });
}

TEST(OpsLoss, LogSoftmaxSecondOrder) {
  check_second_order({randn({3, 5}, DType::f64, 30, 2.0)}, {true},
                     [](Tape& t, const std::vector<Var>& v) { return log_softmax(t, v[0]); });
  check_second_order({randn({2, 3, 4}, DType::f64, 31)}, {true},
                     [](Tape& t, const std::vector<Var>& v) { return mse_loss(t, log_softmax(t, v[0]), v[0]); });
}

TEST(OpsLoss, CrossEntropySecondOrder) {
  Tensor x = randn({5, 4}, DType::f64, 32, 2.0), tg = rand_uniform({5, 4}, DType::f64, 33, 0.0, 1.0);
  Tensor y = labels_of({3, 0, 1, 1, 2});
  for (double eps : {0.0, 0.1}) {
    check_second_order({x}, {true}, [&](Tape& t, const std::vector<Var>& v) { return cross_entropy(t, v[0], y, eps); });
    auto soft = [eps](Tape& t, const std::vector<Var>& v) { return cross_entropy(t, v[0], v[1], eps); };
    check_second_order({x, tg}, {true, true}, soft);
    check_second_order({x, tg}, {true, false}, soft);
    check_second_order({x, tg}, {false, true}, soft);  // linear in the targets: h is constant
  }
  check_second_order({x}, {true}, [](Tape& t, const std::vector<Var>& v) { return cross_entropy(t, v[0], v[0], 0.2); });
  check_second_order({x}, {true}, [&](Tape& t, const std::vector<Var>& v) {
    return cross_entropy(t, log_softmax(t, v[0]), y, 0.05);
  });
  // Through a loss of the loss (the upstream gradient g is then not 1 but depends on x).
  check_second_order({x}, {true}, [&](Tape& t, const std::vector<Var>& v) {
    return mse_loss(t, cross_entropy(t, v[0], y, 0.1), mean(t, v[0]));
  });
}

TEST(OpsLoss, KlDivAndMseSecondOrder) {
  Tensor s = randn({4, 6}, DType::f64, 34, 2.0), te = randn({4, 6}, DType::f64, 35, 3.0);
  for (double T : {1.0, 4.0}) {
    auto kl = [T](Tape& t, const std::vector<Var>& v) { return kl_div(t, v[0], v[1], T); };
    check_second_order({s, te}, {true, true}, kl);
    check_second_order({s, te}, {true, false}, kl);
    check_second_order({s, te}, {false, true}, kl);
    check_second_order({s}, {true},
                       [T](Tape& t, const std::vector<Var>& v) { return kl_div(t, v[0], log_softmax(t, v[0]), T); });
  }
  auto mse = [](Tape& t, const std::vector<Var>& v) { return mse_loss(t, v[0], v[1]); };
  check_second_order({s, te}, {true, true}, mse);
  check_second_order({s, te}, {false, true}, mse);
  check_second_order({s}, {true}, [](Tape& t, const std::vector<Var>& v) {  // g depends on the input
    return mse_loss(t, mse_loss(t, v[0], exp(t, v[0])), mean(t, v[0]));
  });
}

TEST(OpsLoss, SecondOrderThroughOverlappingViews) {
  Tensor theta = randn({30}, DType::f64, 36, 1.5);
  auto pair = [](Tape& t, Var th) { return std::pair{t.view(th, 0, {4, 6}), t.view(th, 6, {4, 6})}; };
  check_second_order({theta}, {true}, [&](Tape& t, const std::vector<Var>& v) {
    auto [a, b] = pair(t, v[0]);
    return kl_div(t, a, b, 2.0);
  });
  check_second_order({theta}, {true}, [&](Tape& t, const std::vector<Var>& v) {
    auto [a, b] = pair(t, v[0]);
    return cross_entropy(t, a, b, 0.1);
  });
}

TEST(OpsLoss, HugeLogitsStayFinite) {
  for (DType dt : {DType::f32, DType::f64}) {
    // Rows of +-1000 with the label on the large and on the small side.
    Tensor x = Tensor::from_vector<double>({1000, -1000, 0, -1000, 1000, 1000}, {2, 3}).to(dt);
    Tensor y = labels_of({0, 0});
    Tape t(Stream::cpu());
    Var xv = t.leaf(x, true);
    Var te = t.leaf(Tensor::from_vector<double>({-1000, 1000, 0, 1000, -1000, 0}, {2, 3}).to(dt), true);
    // Row 0: p = (1, 0, 0); row 1: label 0 sits 2000 below the two maxima: loss 2000 + log 2.
    Var ce = cross_entropy(t, xv, y);
    EXPECT_NEAR(scalar(t, ce), (0.0 + 2000.0 + std::log(2.0)) / 2.0, 1e-3);
    Var ces = cross_entropy(t, xv, y, 0.1);
    Var soft = cross_entropy(t, xv, te);
    Var kl1 = kl_div(t, xv, te, 1.0), kl4 = kl_div(t, xv, te, 4.0);
    Var ls = log_softmax(t, xv);
    for (Var loss : {ce, ces, soft, kl1, kl4}) {
      EXPECT_TRUE(std::isfinite(scalar(t, loss)));
      auto g = t.grad(loss, {xv, te});
      for (const Tensor& gi : g)
        for (double v : vec(gi)) EXPECT_TRUE(std::isfinite(v));
      // The differentiable backward and a Hessian-vector product through it.
      auto gg = t.grad_graph(loss, {xv, te});
      for (size_t i = 0; i < gg.size(); ++i) EXPECT_TRUE(all_close(t.value(gg[i]), g[i], 1e-5, 1e-6)) << i;
      Var hv = add(t, sum(t, mul(t, gg[0], gg[0])), sum(t, mul(t, gg[1], gg[1])));
      if (t.requires_grad(hv))
        for (const Tensor& hi : t.grad(hv, {xv, te}))
          for (double v : vec(hi)) EXPECT_TRUE(std::isfinite(v));
    }
    for (double v : vec(t.value(ls))) EXPECT_TRUE(std::isfinite(v));
    Tensor seed = Tensor::full({2, 3}, 1.0, dt);
    for (double v : vec(t.grad(ls, {xv}, &seed)[0])) EXPECT_TRUE(std::isfinite(v));
  }
}

TEST(OpsLoss, BadInput) {
  Tape t(Stream::cpu());
  Var x = t.leaf(randn({3, 4}, DType::f64, 20));
  expect_error_mentioning([&] { cross_entropy(t, x, labels_of({0, 4, 1})); }, "index 1");
  expect_error_mentioning([&] { cross_entropy(t, x, labels_of({0, 1, -1})); }, "label -1 at index 2");
  expect_error_mentioning([&] { cross_entropy(t, x, Tensor::from_vector<int32_t>({0, 1, 2}, {3})); }, "int64");
  expect_error_mentioning([&] { cross_entropy(t, x, labels_of({0, 1})); }, "must be [N]");
  expect_error_mentioning([&] { cross_entropy(t, x, labels_of({0, 1, 2}), 1.5); }, "smoothing");
  expect_error_mentioning([&] { cross_entropy(t, x, Tensor()); }, "undefined");
  expect_error_mentioning([&] { cross_entropy(t, x, t.leaf(Tensor::zeros({3, 5}, DType::f64))); }, "targets");
  expect_error_mentioning([&] { cross_entropy(t, x, t.leaf(Tensor::zeros({3, 4}, DType::f32))); }, "dtype");
  expect_error_mentioning([&] { cross_entropy(t, t.leaf(Tensor::zeros({12}, DType::f64)), labels_of({0})); }, "[N, C]");
  expect_error_mentioning([&] { kl_div(t, x, t.leaf(Tensor::zeros({4, 3}, DType::f64))); }, "teacher");
  expect_error_mentioning([&] { kl_div(t, x, x, 0.0); }, "temperature");
  expect_error_mentioning([&] { mse_loss(t, x, t.leaf(Tensor::zeros({3, 5}, DType::f64))); }, "target");
  expect_error_mentioning([&] { log_softmax(t, t.leaf(Tensor::zeros({2, 2}, DType::i32))); }, "f32");
  // Kernel-level: a gradient buffer of the wrong shape.
  Tensor lse = Tensor::zeros({3}, DType::f64), g = Tensor::full({}, 1.0, DType::f64);
  expect_error_mentioning(
      [&] {
        cross_entropy_backward(Stream::cpu(), Tensor::zeros({3, 5}, DType::f64), g, t.value(x), labels_of({0, 1, 2}),
                               lse, 0.0, 0.0);
      },
      "grad_logits");
}

TEST(OpsLoss, SoftmaxMatchesNaive) {
  // Long rows (attention over 64 x 64 positions) and many short ones included.
  for (Shape shape : {Shape{3, 5}, Shape{2, 3, 4}, Shape{4, 1}, Shape{7}, Shape{2, 4096}, Shape{64, 4, 16}}) {
    for (DType dt : {DType::f64, DType::f32}) {
      Tensor x = randn(shape, DType::f64, 40, 4.0);
      Tape t(Stream::cpu());
      Var y = softmax(t, t.leaf(x.to(dt)));
      EXPECT_EQ(t.value(y).dtype(), dt);
      const int64_t C = shape.back(), R = shape.numel() / C;
      Vec want, xs = vec(x.to(dt));
      for (int64_t r = 0; r < R; ++r)
        for (double v : naive_log_softmax_row(xs, r, C)) want.push_back(std::exp(v));
      const double tol = dt == DType::f64 ? 1e-14 : 1e-5;
      EXPECT_TRUE(all_close(t.value(y), Tensor::from_vector(want, shape), tol, tol)) << shape << dtype_name(dt);
      // Rows sum to one.
      Vec rows = vec(t.value(sum(t, y, {-1})));
      for (double v : rows) EXPECT_NEAR(v, 1.0, dt == DType::f64 ? 1e-12 : 1e-5);
    }
  }
}

TEST(OpsLoss, SoftmaxHugeAndInfiniteLogits) {
  for (DType dt : {DType::f32, DType::f64}) {
    Tape t(Stream::cpu());
    // +-1000 (exp of the raw values would overflow), a -inf entry (masked attention), equal maxima.
    Tensor x = Tensor::from_vector<double>({1000, -1000, 0, -INFINITY, 1000, 1000, 88, 89, 90}, {3, 3}).to(dt);
    Var xv = t.leaf(x, true);
    Var y = softmax(t, xv);
    Vec got = vec(t.value(y));
    const double e1 = std::exp(-1.0), e2 = std::exp(-2.0), z = 1 + e1 + e2;
    Vec want = {1, 0, 0, 0, 0.5, 0.5, e2 / z, e1 / z, 1 / z};
    for (size_t k = 0; k < want.size(); ++k) EXPECT_NEAR(got[k], want[k], 1e-6) << k;
    Tensor seed = randn({3, 3}, dt, 41);
    for (double v : vec(t.grad(y, {xv}, &seed)[0])) EXPECT_TRUE(std::isfinite(v));
  }
}

TEST(OpsLoss, SoftmaxGradient) {
  check_gradients({randn({3, 5}, DType::f64, 42, 2.0)}, {true},
                  [](Tape& t, const std::vector<Var>& v) { return softmax(t, v[0]); });
  check_gradients({randn({2, 3, 7}, DType::f64, 43, 3.0)}, {true},
                  [](Tape& t, const std::vector<Var>& v) { return softmax(t, v[0]); });
  // x reaches the output along two paths: the softmax backward accumulates (beta = 1) into x's gradient.
  check_gradients({randn({2, 3, 4}, DType::f64, 44)}, {true},
                  [](Tape& t, const std::vector<Var>& v) { return mul(t, softmax(t, v[0]), v[0]); });
  // A strided (permuted) input.
  check_gradients({randn({4, 3}, DType::f64, 45).permute({1, 0})}, {true},
                  [](Tape& t, const std::vector<Var>& v) { return softmax(t, v[0]); });
}

TEST(OpsLoss, SoftmaxSecondOrder) {
  check_second_order({randn({3, 5}, DType::f64, 46, 2.0)}, {true},
                     [](Tape& t, const std::vector<Var>& v) { return softmax(t, v[0]); });
  check_second_order({randn({2, 3, 4}, DType::f64, 47)}, {true},
                     [](Tape& t, const std::vector<Var>& v) { return mul(t, softmax(t, v[0]), v[0]); });
}

TEST(OpsLoss, SoftmaxKernelAccumulatesWithBeta) {
  Stream& s = Stream::cpu();
  Tensor x = randn({3, 6}, DType::f64, 48), dy = randn({3, 6}, DType::f64, 49);
  Tensor y = Tensor::empty({3, 6}, DType::f64), dx = Tensor::empty({3, 6}, DType::f64);
  softmax_forward(s, y, x);
  softmax_backward(s, dx, dy, y, 0.0);
  Tensor acc = Tensor::full({3, 6}, 2.0, DType::f64);
  softmax_backward(s, acc, dy, y, 0.5);
  Vec a = vec(acc), d = vec(dx), yv = vec(y), g = vec(dy);
  for (int64_t r = 0; r < 3; ++r) {
    double dot = 0;
    for (int64_t j = 0; j < 6; ++j) dot += g[r * 6 + j] * yv[r * 6 + j];
    for (int64_t j = 0; j < 6; ++j) {
      const size_t k = size_t(r * 6 + j);
      EXPECT_NEAR(d[k], yv[k] * (g[k] - dot), 1e-15);
      EXPECT_NEAR(a[k], d[k] + 1.0, 1e-15);
    }
  }
}

TEST(OpsLoss, SoftmaxBadInput) {
  Tape t(Stream::cpu());
  expect_error_mentioning([&] { softmax(t, t.leaf(Tensor::zeros({2, 2}, DType::i32))); }, "softmax");
  expect_error_mentioning([&] { softmax(t, t.leaf(Tensor::zeros({}, DType::f64))); }, "at least one dimension");
  Stream& s = Stream::cpu();
  expect_error_mentioning(
      [&] { softmax_forward(s, Tensor::empty({2, 3}, DType::f64), Tensor::zeros({3, 2}, DType::f64)); }, "softmax");
  expect_error_mentioning(
      [&] {
        softmax_backward(s, Tensor::empty({2, 3}, DType::f32), Tensor::zeros({2, 3}, DType::f64),
                         Tensor::zeros({2, 3}, DType::f64), 0.0);
      },
      "softmax backward");
}
