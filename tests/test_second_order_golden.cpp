// The second-order quantities of dataset and data-free distillation against PyTorch float64
// (shared/golden/second_order_convnet3_w8.safetensors; its README defines each key): the trajectory-matching
// meta-gradient through 4 unrolled SGD steps w.r.t. the synthetic images and the step size, a Hessian-vector
// product, a mixed derivative, the gradient-matching loss and its image gradient, the distribution-matching
// loss and its gradient, and the BatchNorm-statistics loss of a frozen ResNet-18 and its image gradient.
// Float64 must agree to 1e-9 (normwise relative), float32 to 1e-4. The affine warp of the same file is
// checked in tests/test_dsa_golden.cpp.
#include <cstdio>

#include "nn/hvp.h"
#include "nn/layer_trace.h"
#include "nn/matching_losses.h"
#include "nn/ops_elementwise.h"
#include "nn/ops_loss.h"
#include "nn/ops_reduce.h"
#include "nn/ops_shape.h"
#include "nn/trajectory_matching.h"
#include "nn/unrolled_sgd.h"
#include "tests/golden_util.h"
#include "tests/model_golden.h"

using namespace sp;
using namespace sp::test;

namespace {

constexpr const char* kFile = "second_order_convnet3_w8.safetensors";

double tolerance(DType dt) { return dt == DType::f64 ? 1e-9 : 1e-4; }

// The file's ConvNet-3 (width 8) at theta0, and its inputs, in dtype dt on the CPU.
struct GoldenCase {
  TensorFile f;
  std::unique_ptr<Model> model;
  Tensor theta, x_syn, y_syn, x_real, y_real;
  DType dt;
  GoldenCase(const std::string& path, DType d) : f(load_safetensors(path)), dt(d) {
    ModelConfig cfg;
    cfg.name = "convnet3";
    cfg.width = 8;
    model = make_model(cfg);
    theta = Tensor::empty({model->params().numel()}, dt);
    model->params().load(theta, f.tensors, "param/");
    x_syn = f.at("input/x_syn").to(dt);
    y_syn = f.at("input/y_syn");
    x_real = f.at("input/x_real").to(dt);
    y_real = f.at("input/y_real");
  }
  // A [P] tensor from the keys "<prefix><name>".
  Tensor flat(const std::string& prefix) const {
    Tensor v = Tensor::empty({model->params().numel()}, dt);
    model->params().load(v, f.tensors, prefix);
    return v;
  }
  // Normwise relative error against the file's key, printed so a run shows the agreement reached.
  double err(const Tensor& got, const std::string& key) const {
    double e = normwise_rel_error(got, f.at(key), Stream::cpu());
    if (key.rfind("mtt/theta_final/", 0) != 0) std::printf("  %s %s: %.3g\n", std::string(dtype_name(dt)).c_str(), key.c_str(), e);
    return e;
  }
};

// Rows [start, start + n) of a batch, as a constant.
Tensor rows(const Tensor& x, int64_t start, int64_t n) { return x.narrow(0, start, n).contiguous(); }

void trajectory_matching(DType dt) {
  SP_REQUIRE_GOLDEN(path, kFile);
  GoldenCase S(path, dt);
  Tape t(Stream::cpu());
  Var xs = t.leaf(S.x_syn, true), lr = t.leaf(S.f.at("input/syn_lr").to(dt), true);
  Var theta0 = t.leaf(S.theta, true);  // the inner gradients are taken w.r.t. it
  std::vector<UnrolledBatch> batches;
  for (int64_t start : {0, 5, 0, 5})
    batches.push_back({ag::narrow(t, xs, 0, start, 5), rows(S.y_syn, start, 5), Var{}});
  Var theta4 = unrolled_sgd(t, *S.model, theta0, lr, batches);
  Tensor target = S.flat("target/");
  Var tgt = t.leaf(target);
  Var num = ag::sum(t, ag::mul(t, ag::sub(t, theta4, tgt), ag::sub(t, theta4, tgt)));
  Var den = ag::sum(t, ag::mul(t, ag::sub(t, theta0, tgt), ag::sub(t, theta0, tgt)));
  Var loss = ag::div(t, num, den);
  std::vector<Tensor> g = t.grad(loss, {xs, lr});
  const double tol = tolerance(dt);
  Tensor th4 = t.value(theta4);
  for (const ParamSpec& p : S.model->params().specs())
    EXPECT_LT(S.err(S.model->params().view(th4, p.name), "mtt/theta_final/" + p.name), tol) << p.name;
  EXPECT_LT(S.err(t.value(loss), "out/mtt_loss"), tol);
  EXPECT_LT(S.err(g[0], "grad/mtt/x_syn"), tol) << "meta-gradient w.r.t. the synthetic images";
  EXPECT_LT(S.err(g[1], "grad/mtt/syn_lr"), tol) << "meta-gradient w.r.t. the step size";
}

// The same meta-gradient through nn/trajectory_matching.h, in both of its modes.
void trajectory_matching_modes(DType dt) {
  SP_REQUIRE_GOLDEN(path, kFile);
  GoldenCase S(path, dt);
  TrajectoryMatchArgs a;
  a.model = S.model.get();
  a.theta_start = S.theta;
  a.theta_target = S.flat("target/");
  a.images = S.x_syn;
  a.labels = S.y_syn;
  a.lr = S.f.at("input/syn_lr").to(DType::f64).to_vector<double>()[0];
  a.batches = {{0, 1, 2, 3, 4}, {5, 6, 7, 8, 9}, {0, 1, 2, 3, 4}, {5, 6, 7, 8, 9}};
  for (MetaGradMode mode : {MetaGradMode::unrolled, MetaGradMode::adjoint}) {
    std::printf("  mode %s\n", meta_grad_mode_name(mode));
    TrajectoryMatchResult r = trajectory_match(Stream::cpu(), a, mode);
    const double tol = tolerance(dt);
    EXPECT_LT(S.err(Tensor::full({}, r.loss, DType::f64), "out/mtt_loss"), tol);
    EXPECT_LT(S.err(r.grad_images, "grad/mtt/x_syn"), tol) << meta_grad_mode_name(mode);
    EXPECT_LT(S.err(Tensor::full({1}, r.grad_lr, DType::f64).view(S.f.at("grad/mtt/syn_lr").shape()), "grad/mtt/syn_lr"), tol)
        << meta_grad_mode_name(mode);
  }
}

void hessian_vector_products(DType dt) {
  SP_REQUIRE_GOLDEN(path, kFile);
  GoldenCase S(path, dt);
  Tape t(Stream::cpu());
  Var th = t.leaf(S.theta, true), xs = t.leaf(S.x_syn, true);
  Var loss = ag::cross_entropy(t, S.model->forward(t, th, Tensor(), xs, true), S.y_syn);
  EXPECT_LT(S.err(t.value(loss), "out/loss_syn"), tolerance(dt));
  Tensor v = S.flat("vec/");
  std::vector<Var> wrt = {th, xs};
  std::vector<Tensor> both = directional_grad_vjp(t, loss, th, v, wrt);
  Tensor want = S.flat("hvp/");
  const double e = normwise_rel_error(both[0], want, Stream::cpu());
  std::printf("  %s hvp/*: %.3g\n", std::string(dtype_name(dt)).c_str(), e);
  EXPECT_LT(e, tolerance(dt)) << "H v";
  EXPECT_LT(S.err(both[1], "grad/mixed/x_syn"), tolerance(dt)) << "d/dx <grad_theta L, v>";
  // The single-purpose helpers agree with the combined one.
  EXPECT_TRUE(all_close(hvp(t, loss, th, v), both[0], 1e-12, 0));
  EXPECT_TRUE(all_close(mixed_hvp(t, loss, th, v, xs), both[1], 1e-12, 0));
}

void gradient_matching(DType dt) {
  SP_REQUIRE_GOLDEN(path, kFile);
  GoldenCase S(path, dt);
  const ParamLayout& P = S.model->params();
  Tape t(Stream::cpu());
  Var xs = t.leaf(S.x_syn, true);
  Var total;
  for (int64_t c = 0; c < 10; ++c) {
    // The real gradient of class c (images c and c + 10) is a constant.
    Tensor g_real;
    {
      Tape r(Stream::cpu());
      Var th = r.leaf(S.theta, true);
      Tensor xr = Tensor::empty({2, 3, 32, 32}, dt);
      xr.narrow(0, 0, 1).copy_(rows(S.x_real, c, 1));
      xr.narrow(0, 1, 1).copy_(rows(S.x_real, c + 10, 1));
      Tensor yr = Tensor::full({2}, double(c), DType::i64);
      g_real = r.grad(ag::cross_entropy(r, S.model->forward(r, th, Tensor(), r.leaf(xr), true), yr), {th})[0];
    }
    Var th = t.leaf(S.theta, true);
    Var loss = ag::cross_entropy(t, S.model->forward(t, th, Tensor(), ag::narrow(t, xs, 0, c, 1), true), rows(S.y_syn, c, 1));
    Var g_syn = t.grad_graph(loss, {th})[0];
    Var d = gradient_match_distance(t, P, g_syn, g_real);
    total = total.valid() ? ag::add(t, total, d) : d;
  }
  EXPECT_LT(S.err(t.value(total), "out/dc_loss"), tolerance(dt));
  EXPECT_LT(S.err(t.grad(total, {xs})[0], "grad/dc/x_syn"), tolerance(dt));
}

void distribution_matching(DType dt) {
  SP_REQUIRE_GOLDEN(path, kFile);
  GoldenCase S(path, dt);
  Tape t(Stream::cpu());
  Var xs = t.leaf(S.x_syn, true), th = t.leaf(S.theta);
  Var total;
  for (int64_t c = 0; c < 10; ++c) {
    Tensor xr = Tensor::empty({2, 3, 32, 32}, dt);
    xr.narrow(0, 0, 1).copy_(rows(S.x_real, c, 1));
    xr.narrow(0, 1, 1).copy_(rows(S.x_real, c + 10, 1));
    Var er = S.model->forward_features(t, th, Tensor(), t.leaf(xr), true).features;
    Var es = S.model->forward_features(t, th, Tensor(), ag::narrow(t, xs, 0, c, 1), true).features;
    Var d = distribution_match_loss(t, er, es);
    total = total.valid() ? ag::add(t, total, d) : d;
  }
  EXPECT_LT(S.err(t.value(total), "out/dm_loss"), tolerance(dt));
  EXPECT_LT(S.err(t.grad(total, {xs})[0], "grad/dm/x_syn"), tolerance(dt));
}

void bn_statistics(DType dt) {
  SP_REQUIRE_GOLDEN(path, kFile);
  GoldenCase S(path, dt);
  ModelConfig cfg;
  cfg.name = "resnet18";
  cfg.width = 8;
  auto teacher = make_model(cfg);
  Tensor theta = Tensor::empty({teacher->params().numel()}, dt), buffers = Tensor::empty({teacher->buffers().numel()}, dt);
  teacher->params().load(theta, S.f.tensors, "teacher/");
  teacher->buffers().load(buffers, S.f.tensors, "teacher/");
  Tape t(Stream::cpu());
  Var xs = t.leaf(S.x_syn, true);
  LayerTrace trace;
  teacher->forward(t, t.leaf(theta), buffers, xs, false);
  Var loss = bn_statistics_loss(t, trace, *teacher, buffers);
  EXPECT_LT(S.err(t.value(loss), "out/bn_loss"), tolerance(dt));
  EXPECT_LT(S.err(t.grad(loss, {xs})[0], "grad/bn/x_syn"), tolerance(dt));
}

}  // namespace

TEST(SecondOrderGolden, TrajectoryMatchingMetaGradientF64) { trajectory_matching(DType::f64); }
TEST(SecondOrderGolden, TrajectoryMatchingMetaGradientF32) { trajectory_matching(DType::f32); }
TEST(SecondOrderGolden, TrajectoryMatchingUnrolledAndAdjointF64) { trajectory_matching_modes(DType::f64); }
TEST(SecondOrderGolden, TrajectoryMatchingUnrolledAndAdjointF32) { trajectory_matching_modes(DType::f32); }
TEST(SecondOrderGolden, HessianVectorProductsF64) { hessian_vector_products(DType::f64); }
TEST(SecondOrderGolden, HessianVectorProductsF32) { hessian_vector_products(DType::f32); }
TEST(SecondOrderGolden, GradientMatchingF64) { gradient_matching(DType::f64); }
TEST(SecondOrderGolden, GradientMatchingF32) { gradient_matching(DType::f32); }
TEST(SecondOrderGolden, DistributionMatchingF64) { distribution_matching(DType::f64); }
TEST(SecondOrderGolden, DistributionMatchingF32) { distribution_matching(DType::f32); }
TEST(SecondOrderGolden, BatchNormStatisticsLossF64) { bn_statistics(DType::f64); }
TEST(SecondOrderGolden, BatchNormStatisticsLossF32) { bn_statistics(DType::f32); }
