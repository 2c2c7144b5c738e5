// Optimisers against an independent scalar implementation of PyTorch's update rules (f64, several steps,
// changing learning rates, decay masks, stacked models), the golden one-step Nesterov SGD case from
// PyTorch (resnet18_w8), state export/restore, and bad input.
#include "nn/optim.h"

#include "kernels/optim.h"
#include "nn/params.h"
#include "nn/safetensors.h"
#include "tests/golden_util.h"
#include "tests/test_util.h"

using namespace sp;
using namespace sp::test;

namespace {

// Written from the torch.optim documentation, element by element, without kernels/optim_math.h.
struct RefOptimizer {
  OptimConfig c;
  std::vector<double> buf, m, v;
  int64_t t = 0;

  void step(std::vector<double>& p, const std::vector<double>& grad, double lr, const std::vector<uint8_t>& mask) {
    size_t n = p.size();
    if (buf.empty()) buf.assign(n, 0.0), m.assign(n, 0.0), v.assign(n, 0.0);
    ++t;
    for (size_t i = 0; i < n; ++i) {
      bool decay = mask.empty() || mask[i % mask.size()];
      double wd = decay ? c.weight_decay : 0.0;
      double g = grad[i];
      if (c.kind == OptimKind::sgd) {
        g += wd * p[i];
        if (c.momentum != 0) {
          buf[i] = t == 1 ? g : c.momentum * buf[i] + (1 - c.dampening) * g;
          g = c.nesterov ? g + c.momentum * buf[i] : buf[i];
        }
        p[i] -= lr * g;
      } else {
        if (c.kind == OptimKind::adamw)
          p[i] *= 1 - lr * wd;
        else
          g += wd * p[i];
        m[i] = c.beta1 * m[i] + (1 - c.beta1) * g;
        v[i] = c.beta2 * v[i] + (1 - c.beta2) * g * g;
        double mhat = m[i] / (1 - std::pow(c.beta1, double(t)));
        double vhat = v[i] / (1 - std::pow(c.beta2, double(t)));
        p[i] -= lr * mhat / (std::sqrt(vhat) + c.eps);
      }
    }
  }
};

OptimConfig sgd(double momentum, double dampening, bool nesterov, double wd) {
  OptimConfig c;
  c.kind = OptimKind::sgd;
  c.momentum = momentum;
  c.dampening = dampening;
  c.nesterov = nesterov;
  c.weight_decay = wd;
  return c;
}
OptimConfig adam(OptimKind k, double wd) {
  OptimConfig c;
  c.kind = k;
  c.beta1 = 0.8;
  c.beta2 = 0.95;
  c.eps = 1e-6;
  c.weight_decay = wd;
  return c;
}

// Runs `steps` steps of the optimiser and the reference on the same random gradients and learning rates and
// compares the parameters after every step.
void check_against_reference(const OptimConfig& c, const Shape& shape, const std::vector<uint8_t>& mask,
                             DType dt = DType::f64, double tol = 1e-12, int steps = 5) {
  Stream& s = Stream::cpu();
  Tensor p = randn(shape, DType::f64, 7).to(dt).contiguous().clone();
  std::vector<double> ref = as_doubles(p);
  Tensor maskt;
  if (!mask.empty()) maskt = Tensor::from_vector(mask, {int64_t(mask.size())});
  auto opt = make_optimizer(c, p, s, maskt);
  RefOptimizer r{c};
  for (int k = 0; k < steps; ++k) {
    double lr = 0.1 * (1 + 0.3 * k);
    Tensor g = randn(shape, dt, 100 + uint64_t(k), 0.5 + k);
    opt->step(s, p, g, lr);
    r.step(ref, as_doubles(g), lr, mask);
    EXPECT_TRUE(all_close(p, Tensor::from_vector(ref, shape), tol, tol)) << optim_kind_name(c.kind) << " step " << k;
  }
  EXPECT_EQ(opt->steps(), steps);
}

}  // namespace

TEST(Optim, PlainSgdWithWeightDecay) { check_against_reference(sgd(0, 0, false, 0.01), {37}, {}); }
TEST(Optim, SgdMomentumWithDampening) { check_against_reference(sgd(0.9, 0.3, false, 0.0), {37}, {}); }
TEST(Optim, SgdNesterovWithWeightDecay) { check_against_reference(sgd(0.9, 0, true, 5e-4), {6, 7}, {}); }
TEST(Optim, Adam) { check_against_reference(adam(OptimKind::adam, 0.0), {37}, {}); }
TEST(Optim, AdamWithWeightDecay) { check_against_reference(adam(OptimKind::adam, 0.05), {37}, {}); }
TEST(Optim, AdamW) { check_against_reference(adam(OptimKind::adamw, 0.05), {37}, {}); }

TEST(Optim, DecayMaskExemptsElements) {
  std::vector<uint8_t> mask(20);
  for (size_t i = 0; i < mask.size(); ++i) mask[i] = i % 3 != 0;
  check_against_reference(sgd(0.9, 0, true, 0.1), {20}, mask);
  check_against_reference(adam(OptimKind::adam, 0.1), {20}, mask);
  check_against_reference(adam(OptimKind::adamw, 0.1), {20}, mask);
}

TEST(Optim, StackedModelsShareOneRowMask) {
  std::vector<uint8_t> row = {1, 0, 1, 1, 0, 1, 1};
  check_against_reference(sgd(0.5, 0.1, false, 0.2), {3, 7}, row);
  check_against_reference(adam(OptimKind::adamw, 0.2), {3, 7}, row);
}

TEST(Optim, Float32FollowsTheReference) {
  check_against_reference(sgd(0.9, 0, true, 5e-4), {50}, {}, DType::f32, 1e-5);
  check_against_reference(adam(OptimKind::adamw, 0.01), {50}, {}, DType::f32, 1e-5);
}

// PyTorch's own step: resnet18_w8 parameters and gradients, SGD lr 0.1, momentum 0.9, Nesterov, wd 5e-4.
TEST(Optim, GoldenNesterovStepMatchesPyTorch) {
  SP_REQUIRE_GOLDEN(path, "resnet18_w8.safetensors");
  TensorFile f = load_safetensors(path);
  ParamLayout layout;
  for (const auto& [key, t] : f.tensors)
    if (key.rfind("param/", 0) == 0) layout.add(key.substr(6), t.shape());
  ASSERT_EQ(layout.numel(), 176402);
  Tensor theta = Tensor::empty({layout.numel()}, DType::f64), grad = Tensor::empty({layout.numel()}, DType::f64);
  layout.load(theta, f.tensors, "param/");
  layout.load(grad, f.tensors, "grad/");
  Sgd opt(sgd(0.9, 0, true, 5e-4), theta, Stream::cpu());
  opt.step(Stream::cpu(), theta, grad, 0.1);
  for (const ParamSpec& p : layout.specs())
    EXPECT_TRUE(all_close(layout.view(theta, p.name), f.at("after_step/param/" + p.name), 1e-10, 1e-12)) << p.name;
}

TEST(Optim, StateExportsAndRestores) {
  Stream& s = Stream::cpu();
  for (OptimConfig c : {sgd(0.9, 0, true, 1e-3), adam(OptimKind::adamw, 0.01)}) {
    Tensor p = randn({11}, DType::f64, 3).clone();
    auto a = make_optimizer(c, p, s);
    for (int k = 0; k < 3; ++k) a->step(s, p, randn({11}, DType::f64, 50 + uint64_t(k)), 0.05);
    auto st = a->state("opt/");
    EXPECT_EQ(st.at("opt/step").item(), 3.0);
    EXPECT_EQ(st.size(), c.kind == OptimKind::sgd ? 2u : 3u);
    // A second optimiser continued from the exported state takes exactly the same next step.
    Tensor q = p.clone();
    auto b = make_optimizer(c, q, s);
    std::map<std::string, Tensor> copied;
    for (const auto& [k, t] : st) copied[k] = t.clone();
    b->load_state(copied, "opt/");
    EXPECT_EQ(b->steps(), 3);
    Tensor g = randn({11}, DType::f64, 77);
    a->step(s, p, g, 0.05);
    b->step(s, q, g, 0.05);
    EXPECT_TRUE(all_close(q, p, 0, 0)) << optim_kind_name(c.kind);
    copied.erase("opt/step");
    EXPECT_THROW(b->load_state(copied, "opt/"), Error);
  }
}

TEST(Optim, FirstSgdStepSetsTheMomentumBuffer) {
  Tensor p = Tensor::from_vector<double>({1.0, -2.0}, {2});
  Sgd opt(sgd(0.9, 0.5, false, 0), p, Stream::cpu());
  opt.step(Stream::cpu(), p, Tensor::from_vector<double>({0.5, 1.0}, {2}), 1.0);
  // buf = g exactly (dampening is not applied on the first step), p -= lr * buf.
  EXPECT_EQ(opt.state().at("momentum_buffer").to_vector<double>(), (std::vector<double>{0.5, 1.0}));
  EXPECT_EQ(p.to_vector<double>(), (std::vector<double>{0.5, -3.0}));
}

TEST(Optim, RejectsBadInput) {
  Stream& s = Stream::cpu();
  Tensor p = Tensor::zeros({4}, DType::f64);
  EXPECT_THROW(Sgd(sgd(0, 0, true, 0), p, s), Error);      // Nesterov without momentum
  EXPECT_THROW(Sgd(sgd(0.9, 0.1, true, 0), p, s), Error);  // Nesterov with dampening
  EXPECT_THROW(Sgd(adam(OptimKind::adam, 0), p, s), Error);
  EXPECT_THROW(optim_kind_from_name("lion"), Error);
  EXPECT_EQ(optim_kind_from_name("adamw"), OptimKind::adamw);
  Sgd opt(sgd(0.9, 0, false, 0), p, s);
  EXPECT_THROW(opt.step(s, p, Tensor::zeros({5}, DType::f64), 0.1), Error);
  EXPECT_THROW(opt.step(s, p, Tensor::zeros({4}, DType::f32), 0.1), Error);
  EXPECT_THROW(opt.step(s, Tensor::zeros({5}, DType::f64), Tensor::zeros({5}, DType::f64), 0.1), Error);
  EXPECT_THROW(opt.step(s, p, Tensor::zeros({4}, DType::f64), -0.1), Error);
  EXPECT_THROW(opt.step(s, p, Tensor::zeros({4}, DType::f64), std::nan("")), Error);
  EXPECT_EQ(opt.steps(), 0);
  Tensor g = Tensor::zeros({4}, DType::f64);
  Tensor bad_mask = Tensor::zeros({3}, DType::u8);
  Tensor hyper = Tensor::from_vector<double>({0.1, 1}, {2});
  EXPECT_THROW(sgd_step(s, p, Tensor(), g, Tensor(), hyper, {.momentum = 0.9}), Error);  // missing buffer
  EXPECT_THROW(sgd_step(s, p, Tensor(), g, bad_mask, hyper, {}), Error);
  EXPECT_THROW(sgd_step(s, p, Tensor(), g, Tensor::zeros({4}, DType::f32), hyper, {}), Error);
  EXPECT_THROW(sgd_step(s, Tensor::zeros({4}, DType::i32), Tensor(), Tensor::zeros({4}, DType::i32), Tensor(), hyper,
                        {}),
               Error);
  EXPECT_THROW(sgd_step(s, p, Tensor(), g, Tensor(), Tensor(), {}), Error);  // no device scalars
  EXPECT_THROW(sgd_step(s, p, Tensor(), g, Tensor(), Tensor::zeros({2}, DType::f32), {}), Error);
  EXPECT_THROW(sgd_step(s, p, Tensor(), g, Tensor(), Tensor::zeros({3}, DType::f64), {}), Error);
  Tensor m = Tensor::zeros({4}, DType::f64), v = Tensor::zeros({4}, DType::f64);
  EXPECT_THROW(adam_step(s, p, m, v, g, Tensor(), hyper, {.beta1 = 1.0}), Error);
  EXPECT_THROW(adam_step(s, p, m, Tensor::zeros({2, 2}, DType::f64), g, Tensor(), hyper, {}), Error);
  expect_error_mentioning([&] { sgd_step(s, p, Tensor(), Tensor::zeros({5}, DType::f64), Tensor(), hyper, {}); },
                          "sgd_step");
}
