// Channels-last CIFAR ResNet-18 (ModelConfig::layout) against NCHW: training forward + backward and eval
// forward at small widths, in f64 on the reference kernels (equal to rounding) and in f32 on the fast path
// (oneDNN nhwc, channels-innermost batch norm; and NCHW, which the fast path still serves) against the f64
// NCHW reference; the automatic rule (nhwc for f32 on the fast path, nchw for f64 and SP_CPU_FAST=0, nchw
// under a layer trace); group-norm models refusing nhwc; the config key; the norms' fused epilogue against
// the unfused composition (bit-identical on the fast path), in ResNet-18, resnet18_gn, WRN-16-4 and ConvNet-3.
#include "kernels/cpu/fast_path.h"
#include "nn/layer_trace.h"
#include "nn/model.h"
#include "nn/models/layer_builder.h"
#include "nn/ops_loss.h"
#include "paradigms/config.h"
#include "tests/config_test_util.h"
#include "tests/fast_path_scope.h"
#include "tests/test_util.h"

using namespace sp;
using namespace sp::test;

namespace {

struct Step {
  Tensor logits, grad, buffers, eval_logits;
};

// One training step's logits, parameter gradient and updated running statistics, then eval logits.
Step run(int64_t width, int64_t batch, ActivationLayout layout, DType dt, const std::string& name = "resnet18") {
  ModelConfig cfg;
  cfg.name = name;
  cfg.width = width;
  cfg.layout = layout;
  auto model = make_model(cfg);
  Tensor theta = Tensor::empty({model->params().numel()}, DType::f64);
  Tensor buf = Tensor::empty({model->buffers().numel()}, DType::f64);
  model->init(Stream::cpu(), theta, buf, 7);
  const Tensor x = randn({batch, 3, 32, 32}, DType::f64, 21).to(dt);
  std::vector<int64_t> labels(static_cast<size_t>(batch));
  for (int64_t i = 0; i < batch; ++i) labels[size_t(i)] = (i * 3) % 10;
  const Tensor y = Tensor::from_vector(labels, {batch});
  Step s;
  s.buffers = buf.to(dt);
  Tape t(Stream::cpu());
  Var th = t.leaf(theta.to(dt), true);
  Var logits = model->forward(t, th, s.buffers, t.leaf(x), true);
  s.logits = t.value(logits);
  s.grad = t.grad(ag::cross_entropy(t, logits, y), {th})[0];
  Tape e(Stream::cpu());
  s.eval_logits = e.value(model->forward(e, e.leaf(theta.to(dt)), s.buffers, e.leaf(x), false));
  return s;
}

void expect_close(const Step& got, const Step& want, double tol, const std::string& what) {
  EXPECT_TRUE(all_close(got.logits, want.logits, tol, tol * max_abs(want.logits))) << what << ": logits";
  EXPECT_TRUE(all_close(got.grad, want.grad, 10 * tol, tol * max_abs(want.grad))) << what << ": gradient";
  EXPECT_TRUE(all_close(got.buffers, want.buffers, tol, tol)) << what << ": running statistics";
  EXPECT_TRUE(all_close(got.eval_logits, want.eval_logits, tol, tol * max_abs(want.eval_logits))) << what << ": eval";
}

bool bitwise_equal(const Step& a, const Step& b) {
  return all_close(a.logits, b.logits, 0, 0) && all_close(a.grad, b.grad, 0, 0) &&
         all_close(a.eval_logits, b.eval_logits, 0, 0);
}

}  // namespace

// Widths 2 and 8 (the 1x1 strided shortcuts stay blocked behind reorders on oneDNN; an odd batch of 19 cuts
// into chunks of 8, 8 and 3).
TEST(ModelsNhwc, ResNet18MatchesNchw) {
  for (auto [width, batch] : {std::pair<int64_t, int64_t>{2, 19}, {8, 4}}) {
    const std::string name = "width " + std::to_string(width);
    Step ref;
    {
      FastPath reference(false);
      ref = run(width, batch, ActivationLayout::nchw, DType::f64);
      expect_close(run(width, batch, ActivationLayout::nhwc, DType::f64), ref, 1e-10, name + ", f64 nhwc");
    }
    FastPath fast(true);
    expect_close(run(width, batch, ActivationLayout::nhwc, DType::f32), ref, 2e-4, name + ", f32 fast nhwc");
    expect_close(run(width, batch, ActivationLayout::nchw, DType::f32), ref, 2e-4, name + ", f32 fast nchw");
  }
}

// Norms with their fused epilogue (LayerBuilder::norm_act) against the unfused composition: ResNet-18 in both
// layouts (batch norm; every block kind: stem, plain and projection shortcuts) and the group-norm models
// (resnet18_gn, WRN-16-4, ConvNet-3's instance norm); bit-identical on the float32 fast path (the same float
// operations in the same order, forward and backward), equal to rounding in f64.
TEST(ModelsNhwc, FusedNormEpilogueMatchesTheComposition) {
  struct Fusion {
    bool before = models::fuse_norm_epilogue();
    explicit Fusion(bool on) { models::set_fuse_norm_epilogue(on); }
    ~Fusion() { models::set_fuse_norm_epilogue(before); }
  };
  struct Net {
    const char* name;
    int64_t width;
    ActivationLayout layout;
  };
  const Net nets[] = {{"resnet18", 4, ActivationLayout::nchw},
                      {"resnet18", 4, ActivationLayout::nhwc},
                      {"resnet18_gn", 4, ActivationLayout::nchw},
                      {"wrn16_4", 8, ActivationLayout::nchw},
                      {"convnet3", 8, ActivationLayout::nchw}};
  for (const Net& n : nets) {
    const std::string name = std::string(n.name) + " " + activation_layout_name(n.layout);
    for (bool fast : {true, false}) {
      FastPath path(fast);
      const DType dt = fast ? DType::f32 : DType::f64;
      Step fused, composed;
      {
        Fusion on(true);
        fused = run(n.width, 5, n.layout, dt, n.name);
      }
      {
        Fusion off(false);
        composed = run(n.width, 5, n.layout, dt, n.name);
      }
      if (fast) {
        EXPECT_TRUE(bitwise_equal(fused, composed)) << name;
        EXPECT_TRUE(all_close(fused.buffers, composed.buffers, 0, 0)) << name;
      } else {
        expect_close(fused, composed, 1e-12, name + ", f64");
      }
    }
  }
}

TEST(ModelsNhwc, AutomaticLayoutRule) {
  {
    FastPath fast(true);
    const Step automatic = run(2, 5, ActivationLayout::automatic, DType::f32);
    EXPECT_TRUE(bitwise_equal(automatic, run(2, 5, ActivationLayout::nhwc, DType::f32))) << "f32 fast path: nhwc";
    EXPECT_FALSE(bitwise_equal(automatic, run(2, 5, ActivationLayout::nchw, DType::f32)));
    EXPECT_TRUE(bitwise_equal(run(2, 5, ActivationLayout::automatic, DType::f64),
                              run(2, 5, ActivationLayout::nchw, DType::f64)))
        << "f64: nchw";
  }
  FastPath reference(false);
  EXPECT_TRUE(bitwise_equal(run(2, 5, ActivationLayout::automatic, DType::f32),
                            run(2, 5, ActivationLayout::nchw, DType::f32)))
      << "SP_CPU_FAST=0: nchw";
}

TEST(ModelsNhwc, LayerTraceAndGroupNorm) {
  ModelConfig cfg;
  cfg.width = 2;
  cfg.layout = ActivationLayout::nhwc;
  auto model = make_model(cfg);
  Tensor theta = Tensor::zeros({model->params().numel()}, DType::f32);
  Tensor buf = Tensor::zeros({model->buffers().numel()}, DType::f32);
  Tape t(Stream::cpu());
  LayerTrace trace;
  const Tensor x = randn({2, 3, 32, 32}, DType::f32, 1);
  expect_error_mentioning([&] { model->forward(t, t.leaf(theta), buf, t.leaf(x), true); }, "layer trace");
  for (const char* name : {"resnet18_gn", "wrn16_4", "convnet3"}) {
    ModelConfig g;
    g.name = name;
    g.width = 8;
    g.layout = ActivationLayout::nhwc;
    expect_error_mentioning([&] { make_model(g); }, "group norm");
  }
  EXPECT_EQ(parse_activation_layout("nhwc"), ActivationLayout::nhwc);
  EXPECT_STREQ(activation_layout_name(parse_activation_layout("auto")), "auto");
  expect_error_mentioning([] { parse_activation_layout("chw"); }, "'chw'");
}

TEST(ModelsNhwc, ConfigKey) {
  const std::string head = R"({"dataset": {"name": "shapes10", "train": 300, "test": 50},
    "recipe": {"epochs": 1, "batch_size": 32, "optimizer": {"name": "sgd", "lr": 0.05}}, "audit": {"num_audit": 20},
    "model": {"name": ")";
  RunConfig c = parse_config_text(head + R"(resnet18", "width": 8, "layout": "nhwc"}})");
  EXPECT_EQ(c.model.layout, ActivationLayout::nhwc);
  EXPECT_EQ(c.resolved["model"]["layout"], "nhwc");
  // Absent: auto, and the resolved configuration stays as it was before the key existed.
  c = parse_config_text(head + R"(resnet18", "width": 8}})");
  EXPECT_EQ(c.model.layout, ActivationLayout::automatic);
  EXPECT_FALSE(c.resolved["model"].contains("layout"));
  expect_has(config_problems(head + R"(resnet18", "width": 8, "layout": "chw"}})"), "layout");
  expect_has(config_problems(head + R"(wrn16_4", "width": 8, "layout": "nhwc"}})"), "group norm");
}
