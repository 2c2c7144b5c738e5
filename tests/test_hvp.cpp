// Hessian-vector products (nn/hvp.h) against central differences of the first-order gradient on a small
// ConvNet-3 (f64): H v = (g(theta + e v) - g(theta - e v)) / 2e and d/dx <g, v> likewise in x; unrolled SGD
// (nn/unrolled_sgd.h) against plain first-order steps and its step-size derivative against differences; the
// matching losses (nn/matching_losses.h) on hand-made inputs; and bad input.
#include <cmath>

#include "nn/hvp.h"
#include "nn/matching_losses.h"
#include "nn/model.h"
#include "nn/ops_elementwise.h"
#include "nn/ops_loss.h"
#include "nn/ops_reduce.h"
#include "nn/unrolled_sgd.h"
#include "tests/test_util.h"

using namespace sp;
using namespace sp::test;

namespace {

std::unique_ptr<Model> small_convnet() {
  ModelConfig c;
  c.name = "convnet3";
  c.width = 4;
  c.image_size = 8;
  return make_model(c);
}

struct Net {
  std::unique_ptr<Model> m = small_convnet();
  Tensor theta, x, y;
  Net() {
    theta = Tensor::empty({m->params().numel()}, DType::f64);
    m->init(Stream::cpu(), theta, Tensor(), 3);
    x = randn({4, 3, 8, 8}, DType::f64, 4);
    y = Tensor::from_vector<int64_t>({0, 3, 7, 3}, {4});
  }
  // dL/dtheta and dL/dx at (th, xx) by the first-order sweep.
  std::pair<Tensor, Tensor> grads(const Tensor& th, const Tensor& xx) const {
    Tape t(Stream::cpu());
    Var a = t.leaf(th, true), b = t.leaf(xx, true);
    std::vector<Tensor> g = t.grad(ag::cross_entropy(t, m->forward(t, a, Tensor(), b, true), y), {a, b});
    return {g[0], g[1]};
  }
};

Tensor axpy(const Tensor& a, const Tensor& b, double s) {  // a + s b
  auto x = as_doubles(a), y = as_doubles(b);
  for (size_t i = 0; i < x.size(); ++i) x[i] += s * y[i];
  return Tensor::from_vector(x, a.shape());
}

double dot(const Tensor& a, const Tensor& b) {
  auto x = as_doubles(a), y = as_doubles(b);
  double s = 0;
  for (size_t i = 0; i < x.size(); ++i) s += x[i] * y[i];
  return s;
}

}  // namespace

TEST(Hvp, MatchesCentralDifferencesOfTheGradient) {
  Net n;
  Tensor v = randn(n.theta.shape(), DType::f64, 5);
  Tape t(Stream::cpu());
  Var th = t.leaf(n.theta, true), xv = t.leaf(n.x, true);
  Var loss = ag::cross_entropy(t, n.m->forward(t, th, Tensor(), xv, true), n.y);
  Tensor hv = hvp(t, loss, th, v);
  Tensor mixed = mixed_hvp(t, loss, th, v, xv);
  const double e = 1e-5;
  Tensor fd_h = axpy(n.grads(axpy(n.theta, v, e), n.x).first, n.grads(axpy(n.theta, v, -e), n.x).first, -1.0);
  fd_h = axpy(Tensor::zeros(fd_h.shape(), DType::f64), fd_h, 1.0 / (2 * e));
  EXPECT_TRUE(all_close(hv, fd_h, 1e-5, 1e-7 * max_abs(fd_h)));
  // d/dx <g_theta, v> is the derivative of <g_theta(x), v> along x; check it along a random direction u.
  Tensor u = randn(n.x.shape(), DType::f64, 6);
  double fd_m = (dot(n.grads(n.theta, axpy(n.x, u, e)).first, v) - dot(n.grads(n.theta, axpy(n.x, u, -e)).first, v)) / (2 * e);
  EXPECT_NEAR(dot(mixed, u), fd_m, 1e-6 * std::max(1.0, std::abs(fd_m)));
  // The Hessian is symmetric: <H v, w> = <v, H w>.
  Tensor w = randn(n.theta.shape(), DType::f64, 7);
  EXPECT_NEAR(dot(hv, w), dot(v, hvp(t, loss, th, w)), 1e-10 * std::abs(dot(hv, w)));
}

TEST(Hvp, BadInput) {
  Net n;
  Tape t(Stream::cpu());
  Var th = t.leaf(n.theta, true), fixed = t.leaf(n.x);
  Var loss = ag::cross_entropy(t, n.m->forward(t, th, Tensor(), fixed, true), n.y);
  expect_error_mentioning([&] { hvp(t, loss, th, Tensor::zeros({3}, DType::f64)); }, "does not match the parameters");
  expect_error_mentioning([&] { mixed_hvp(t, loss, th, Tensor::zeros(n.theta.shape(), DType::f64), fixed); },
                          "does not require grad");
}

TEST(UnrolledSgd, StepsEqualPlainSgdAndTheStepSizeDerivativeIsExact) {
  Net n;
  const double lr0 = 0.1;
  auto meta = [&](double lr, Tensor* theta_out, Tensor* dlr, Tensor* dx) {
    Tape t(Stream::cpu());
    Var xv = t.leaf(n.x, true), lv = t.leaf(Tensor::full({1}, lr, DType::f64), true);
    std::vector<UnrolledBatch> b = {{xv, n.y, Var{}}, {xv, n.y, Var{}}, {xv, n.y, Var{}}};
    Var th = unrolled_sgd(t, *n.m, t.leaf(n.theta, true), lv, b);
    Var loss = ag::sum(t, ag::mul(t, th, th));
    if (theta_out) *theta_out = t.value(th);
    if (dlr) {
      std::vector<Tensor> g = t.grad(loss, {lv, xv});
      *dlr = g[0];
      *dx = g[1];
    }
    return as_doubles(t.value(loss))[0];
  };
  Tensor th3, dlr, dx;
  meta(lr0, &th3, &dlr, &dx);
  Tensor plain = n.theta;
  for (int k = 0; k < 3; ++k) plain = axpy(plain, n.grads(plain, n.x).first, -lr0);
  EXPECT_TRUE(all_close(th3, plain, 1e-12, 1e-14));
  const double e = 1e-6;
  double fd = (meta(lr0 + e, nullptr, nullptr, nullptr) - meta(lr0 - e, nullptr, nullptr, nullptr)) / (2 * e);
  EXPECT_NEAR(dlr.to_vector<double>()[0], fd, 1e-6 * std::max(1.0, std::abs(fd)));
  EXPECT_GT(max_abs(dx), 0.0);
}

TEST(UnrolledSgd, SoftTargetsAndBadInput) {
  Net n;
  Tape t(Stream::cpu());
  Var xv = t.leaf(n.x, true), lv = t.leaf(Tensor::full({}, 0.1, DType::f64), true);
  Var soft = ag::exp(t, ag::log_softmax(t, t.leaf(randn({4, 10}, DType::f64, 8), true)));
  std::vector<UnrolledBatch> ok = {{xv, Tensor(), soft}};
  Var th = unrolled_sgd(t, *n.m, t.leaf(n.theta, true), lv, ok);
  EXPECT_EQ(t.value(th).shape(), n.theta.shape());
  std::vector<UnrolledBatch> both = {{xv, n.y, soft}};
  expect_error_mentioning([&] { unrolled_sgd(t, *n.m, t.leaf(n.theta, true), lv, both); }, "exactly one of");
  expect_error_mentioning([&] { unrolled_sgd(t, *n.m, t.leaf(n.theta), lv, ok); }, "theta0 must require grad");
  expect_error_mentioning([&] { unrolled_sgd(t, *n.m, t.leaf(n.theta, true), t.leaf(Tensor::zeros({2}, DType::f64)), ok); },
                          "must be a scalar");
}

TEST(MatchingLosses, GradientMatchDistanceByHand) {
  ParamLayout P;
  P.add("w", {2, 2});
  P.add("b", {2});  // 1-D: ignored
  Tape t(Stream::cpu());
  // Rows: (1, 0) vs (2, 0): cos 1; (0, 1) vs (0, -3): cos -1. Biases differ but do not count.
  Tensor real = Tensor::from_vector<double>({1, 0, 0, 1, 5, 5}, {6});
  Var syn = t.leaf(Tensor::from_vector<double>({2, 0, 0, -3, -1, 7}, {6}), true);
  Var d = gradient_match_distance(t, P, syn, real);
  const double cos1 = 2.0 / (2.0 + 1e-6), cos2 = -3.0 / (3.0 + 1e-6);
  EXPECT_NEAR(as_doubles(t.value(d))[0], (1 - cos1) + (1 - cos2), 1e-14);
  std::vector<Tensor> g = t.grad(d, {syn});
  auto gv = g[0].to_vector<double>();
  EXPECT_EQ(gv[4], 0.0);
  EXPECT_EQ(gv[5], 0.0);
  ParamLayout bad;
  bad.add("b", {6});
  expect_error_mentioning([&] { gradient_match_distance(t, bad, syn, real); }, "no parameter with more than one");
  expect_error_mentioning([&] { gradient_match_distance(t, P, syn, Tensor::zeros({5}, DType::f64)); },
                          "gradient_match_distance");
}

TEST(MatchingLosses, DistributionMatchByHandAndBnLossNeedsBatchNorm) {
  Tape t(Stream::cpu());
  Var real = t.leaf(Tensor::from_vector<double>({1, 2, 3, 4}, {2, 2}));  // mean (2, 3)
  Var syn = t.leaf(Tensor::from_vector<double>({0, 0}, {1, 2}), true);
  EXPECT_DOUBLE_EQ(as_doubles(t.value(distribution_match_loss(t, real, syn)))[0], 13.0);
  expect_error_mentioning([&] { distribution_match_loss(t, real, t.leaf(Tensor::zeros({1, 3}, DType::f64))); },
                          "same F");
  Net n;  // ConvNet-3 has group norm only
  LayerTrace trace;
  n.m->forward(t, t.leaf(n.theta), Tensor(), t.leaf(n.x), false);
  expect_error_mentioning([&] { bn_statistics_loss(t, trace, *n.m, Tensor()); }, "holds no batch-norm layer");
}
