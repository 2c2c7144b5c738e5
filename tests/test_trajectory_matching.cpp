// Trajectory matching's meta-gradient (nn/trajectory_matching.h) on a small ConvNet-3 in float64: the
// unrolled and the adjoint (constant-memory) modes agree to 1e-10 with hard labels, with soft labels and
// with per-sample DSA replayed in every step, over minibatches that cover the set unevenly; the gradient
// agrees with a central difference of the loss along it (images, step size, label logits); the adjoint
// mode's tape never holds more than one step. The PyTorch golden of both modes is in
// tests/test_second_order_golden.cpp.
#include <cmath>

#include "nn/dsa.h"
#include "nn/ops_reduce.h"
#include "nn/trajectory_matching.h"
#include "tests/model_golden.h"
#include "tests/test_util.h"

using namespace sp;
using namespace sp::test;

namespace {

struct Case {
  std::unique_ptr<Model> model;
  TrajectoryMatchArgs a;
  std::vector<dsa::AugDraw> draws;
  explicit Case(bool soft, bool augment, int steps = 5) {
    ModelConfig c;
    c.name = "convnet3";
    c.width = 4;
    c.image_size = 8;
    model = make_model(c);
    const int64_t P = model->params().numel(), n = 12;
    Tensor theta = Tensor::empty({P}, DType::f64);
    model->init(Stream::cpu(), theta, Tensor(), 11);
    a.model = model.get();
    a.theta_start = theta;
    a.theta_target = axpy(theta, randn({P}, DType::f64, 12), 0.05);
    a.images = randn({n, 3, 8, 8}, DType::f64, 13);
    if (soft)
      a.label_logits = randn({n, 10}, DType::f64, 14);
    else
      a.labels = Tensor::from_vector<int64_t>({0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1}, {n});
    a.lr = 0.05;
    // Uneven minibatches: runs, single rows, a repeat across steps, the whole set.
    const std::vector<std::vector<int64_t>> rows = {{0, 1, 2, 7, 8}, {3, 4, 5, 6, 9, 10, 11}, {2, 3, 11},
                                                    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, {5, 9}, {1, 6, 7}};
    for (int k = 0; k < steps; ++k) a.batches.push_back(rows[size_t(k) % rows.size()]);
    if (augment) {
      dsa::DsaParams p;
      std::vector<dsa::Group> strategy = dsa::parse_strategy("color_crop_cutout_flip_scale_rotate");
      for (int k = 0; k < steps; ++k)
        draws.push_back(dsa::draw(strategy, p, int64_t(a.batches[size_t(k)].size()), 8, 8, 77, uint64_t(k), false));
      a.aug = [this](Tape& t, Var x, int64_t k) { return dsa::apply(t, x, draws[size_t(k)]); };
    }
  }
  static Tensor axpy(const Tensor& x, const Tensor& y, double s) {
    auto u = as_doubles(x), v = as_doubles(y);
    for (size_t i = 0; i < u.size(); ++i) u[i] += s * v[i];
    return Tensor::from_vector(u, x.shape());
  }
};

double rel(const Tensor& a, const Tensor& b) { return normwise_rel_error(a, b, Stream::cpu()); }

void modes_agree(bool soft, bool augment) {
  Case c(soft, augment);
  TrajectoryMatchResult u = trajectory_match(Stream::cpu(), c.a, MetaGradMode::unrolled);
  TrajectoryMatchResult j = trajectory_match(Stream::cpu(), c.a, MetaGradMode::adjoint);
  EXPECT_GT(u.loss, 0);
  EXPECT_NEAR(u.loss, j.loss, 1e-12 * u.loss);
  EXPECT_LT(rel(u.theta_final, j.theta_final), 1e-12);
  EXPECT_LT(rel(u.grad_images, j.grad_images), 1e-10);
  EXPECT_NEAR(u.grad_lr, j.grad_lr, 1e-10 * std::abs(u.grad_lr));
  EXPECT_GT(std::abs(u.grad_lr), 0);
  if (soft) EXPECT_LT(rel(u.grad_label_logits, j.grad_label_logits), 1e-10);
  // Every image is used by some step, so every row has a gradient.
  auto g = as_doubles(u.grad_images);
  for (int64_t r = 0; r < 12; ++r) {
    double n2 = 0;
    for (int64_t i = 0; i < 3 * 64; ++i) n2 += g[size_t(r * 192 + i)] * g[size_t(r * 192 + i)];
    EXPECT_GT(n2, 0) << "row " << r;
  }
}

}  // namespace

TEST(TrajectoryMatching, AdjointEqualsUnrolledHardLabels) { modes_agree(false, false); }
TEST(TrajectoryMatching, AdjointEqualsUnrolledSoftLabels) { modes_agree(true, false); }
TEST(TrajectoryMatching, AdjointEqualsUnrolledWithPerSampleDsa) { modes_agree(true, true); }

TEST(TrajectoryMatching, GradientAgreesWithCentralDifferences) {
  for (MetaGradMode mode : {MetaGradMode::unrolled, MetaGradMode::adjoint}) {
    Case c(true, true, 4);
    TrajectoryMatchResult r = trajectory_match(Stream::cpu(), c.a, mode);
    const double gx2 = [&] {
      auto g = as_doubles(r.grad_images);
      double s = 0;
      for (double v : g) s += v * v;
      return s;
    }();
    const double gy2 = [&] {
      auto g = as_doubles(r.grad_label_logits);
      double s = 0;
      for (double v : g) s += v * v;
      return s;
    }();
    // Along d = (grad_images, grad_lr, grad_logits): (L(+e d) - L(-e d)) / 2e = |d|^2.
    const double e = 1e-4 / std::sqrt(gx2 + gy2 + r.grad_lr * r.grad_lr);
    auto at = [&](double sgn) {
      TrajectoryMatchArgs b = c.a;
      b.images = Case::axpy(c.a.images, r.grad_images, sgn * e);
      b.label_logits = Case::axpy(c.a.label_logits, r.grad_label_logits, sgn * e);
      b.lr = c.a.lr + sgn * e * r.grad_lr;
      return trajectory_match(Stream::cpu(), b, MetaGradMode::unrolled).loss;
    };
    const double fd = (at(1) - at(-1)) / (2 * e), want = gx2 + gy2 + r.grad_lr * r.grad_lr;
    EXPECT_NEAR(fd, want, 1e-6 * want) << meta_grad_mode_name(mode);
  }
}

TEST(TrajectoryMatching, GatherRowsScattersGradients) {
  Tape t(Stream::cpu());
  Tensor x = randn({5, 2}, DType::f64, 3);
  Var v = t.leaf(x, true);
  Var g = gather_rows(t, v, {3, 4, 0, 4});
  auto got = as_doubles(t.value(g)), src = as_doubles(x);
  const int64_t rows[] = {3, 4, 0, 4};
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 2; ++j) EXPECT_EQ(got[size_t(i * 2 + j)], src[size_t(rows[i] * 2 + j)]);
  auto gx = as_doubles(t.grad(ag::sum(t, g), {v})[0]);
  const double want[] = {1, 1, 0, 0, 0, 0, 1, 1, 2, 2};
  for (int i = 0; i < 10; ++i) EXPECT_EQ(gx[size_t(i)], want[i]);
}

TEST(TrajectoryMatching, RejectsBadArguments) {
  Case c(false, false);
  TrajectoryMatchArgs b = c.a;
  b.batches = {{0, 12}};
  expect_error_mentioning([&] { trajectory_match(Stream::cpu(), b, MetaGradMode::adjoint); }, "row 12");
  b = c.a;
  b.theta_target = c.a.theta_start;
  expect_error_mentioning([&] { trajectory_match(Stream::cpu(), b, MetaGradMode::adjoint); }, "equal");
  b = c.a;
  b.label_logits = randn({12, 10}, DType::f64, 1);
  expect_error_mentioning([&] { trajectory_match(Stream::cpu(), b, MetaGradMode::unrolled); }, "exactly one");
  b = c.a;
  b.batches.clear();
  expect_error_mentioning([&] { trajectory_match(Stream::cpu(), b, MetaGradMode::unrolled); }, "no unrolled steps");
  expect_error_mentioning([&] { meta_grad_mode_from_name("plain"); }, "unknown meta-gradient mode");
}
