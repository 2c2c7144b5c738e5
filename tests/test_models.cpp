// The models of nn/models/: parameter counts and names of every architecture, PyTorch-default
// initialisation (ranges, moments, determinism, name-keyed streams), forward shapes, eval mode's
// independence from the rest of the batch, gradients of theta and of the input against finite differences
// (f64), f32 against f64, bad configurations and inputs, and the penultimate features of forward_features
// (shape, and logits = classifier(features) recomputed on the host).
#include <cmath>

#include "nn/init.h"
#include "nn/model.h"
#include "nn/ops_loss.h"
#include "tests/test_util.h"

using namespace sp;
using namespace sp::ag;
using namespace sp::test;

namespace {

ModelConfig config(const std::string& name, int64_t width, int64_t image_size = 32, int64_t classes = 10) {
  ModelConfig c;
  c.name = name;
  c.width = width;
  c.image_size = image_size;
  c.num_classes = classes;
  return c;
}

// A model with its parameters and buffers initialised on the CPU.
struct Instance {
  std::unique_ptr<Model> model;
  Tensor theta, buffers;
  Instance(const ModelConfig& c, DType dt, uint64_t seed = 1) : model(make_model(c)) {
    theta = Tensor::empty({model->params().numel()}, dt);
    buffers = Tensor::empty({model->buffers().numel()}, dt);
    model->init(Stream::cpu(), theta, buffers, seed);
  }
};

Tensor images(int64_t n, const ModelConfig& c, DType dt, uint64_t seed = 9) {
  return randn({n, c.in_channels, c.image_size, c.image_size}, dt, seed);
}

}  // namespace

TEST(Models, ParameterCounts) {
  EXPECT_EQ(make_model(config("resnet18", 64))->params().numel(), 11173962);
  EXPECT_EQ(make_model(config("resnet18", 8))->params().numel(), 176402);
  EXPECT_EQ(make_model(config("resnet18_gn", 64))->params().numel(), 11173962);
  EXPECT_EQ(make_model(config("wrn16_4", 64))->params().numel(), 2748890);
  EXPECT_EQ(make_model(config("convnet3", 32))->params().numel(), 24714);
  EXPECT_EQ(make_model(config("convnet3", 128))->params().numel(), 320010);
  // 100 classes change only the classifier.
  EXPECT_EQ(make_model(config("resnet18", 64, 32, 100))->params().numel(), 11173962 + 90 * 513);
  // Running statistics: mean and var per BN channel (64 + 4*64 + 5*128 + 5*256 + 5*512 = 4800 channels).
  EXPECT_EQ(make_model(config("resnet18", 64))->buffers().numel(), 2 * 4800);
  EXPECT_TRUE(make_model(config("resnet18", 8))->has_batch_norm());
  for (const char* gn : {"resnet18_gn", "wrn16_4", "convnet3"}) {
    auto m = make_model(config(gn, 16));
    EXPECT_FALSE(m->has_batch_norm()) << gn;
    EXPECT_EQ(m->buffers().numel(), 0) << gn;
  }
}

TEST(Models, ParameterNamesAndShapes) {
  auto r = make_model(config("resnet18", 64));
  const ParamLayout& p = r->params();
  EXPECT_EQ(p.at("conv1.weight").shape, (Shape{64, 3, 3, 3}));
  EXPECT_EQ(p.at("bn1.weight").shape, (Shape{64}));
  EXPECT_EQ(p.at("layer1.0.conv1.weight").shape, (Shape{64, 64, 3, 3}));
  EXPECT_FALSE(p.contains("layer1.0.shortcut.0.weight"));
  EXPECT_EQ(p.at("layer2.0.shortcut.0.weight").shape, (Shape{128, 64, 1, 1}));
  EXPECT_FALSE(p.contains("layer2.1.shortcut.0.weight"));
  EXPECT_EQ(p.at("layer4.1.bn2.bias").shape, (Shape{512}));
  EXPECT_EQ(p.at("linear.weight").shape, (Shape{10, 512}));
  EXPECT_FALSE(p.contains("conv1.bias"));
  EXPECT_EQ(r->buffers().at("layer2.0.shortcut.1.running_mean").shape, (Shape{128}));
  EXPECT_EQ(r->buffers().at("bn1.running_var").shape, (Shape{64}));
  // Decay marks: conv and linear weights only.
  EXPECT_TRUE(p.at("conv1.weight").decay);
  EXPECT_FALSE(p.at("bn1.weight").decay);
  EXPECT_FALSE(p.at("linear.bias").decay);

  auto g = make_model(config("resnet18_gn", 64));
  EXPECT_EQ(g->params().size(), p.size());
  EXPECT_TRUE(g->params().contains("layer3.0.shortcut.1.weight"));

  auto w = make_model(config("wrn16_4", 64));
  const ParamLayout& q = w->params();
  EXPECT_EQ(q.at("conv1.weight").shape, (Shape{16, 3, 3, 3}));
  EXPECT_EQ(q.at("block1.layer.0.bn1.weight").shape, (Shape{16}));
  EXPECT_EQ(q.at("block1.layer.0.convShortcut.weight").shape, (Shape{64, 16, 1, 1}));
  EXPECT_FALSE(q.contains("block1.layer.1.convShortcut.weight"));
  EXPECT_EQ(q.at("block3.layer.0.conv1.weight").shape, (Shape{256, 128, 3, 3}));
  EXPECT_EQ(q.at("bn1.weight").shape, (Shape{256}));
  EXPECT_EQ(q.at("fc.weight").shape, (Shape{10, 256}));

  auto c = make_model(config("convnet3", 128));
  const ParamLayout& k = c->params();
  EXPECT_EQ(k.at("features.0.weight").shape, (Shape{128, 3, 3, 3}));
  EXPECT_EQ(k.at("features.0.bias").shape, (Shape{128}));
  EXPECT_EQ(k.at("features.5.weight").shape, (Shape{128}));
  EXPECT_EQ(k.at("features.8.weight").shape, (Shape{128, 128, 3, 3}));
  EXPECT_EQ(k.at("classifier.weight").shape, (Shape{10, 128 * 4 * 4}));
  EXPECT_EQ(k.size(), 14);
}

TEST(Models, InitialisationFollowsPyTorchDefaults) {
  Instance a(config("resnet18", 16), DType::f64, 42);
  const ParamLayout& P = a.model->params();
  for (const ParamSpec& p : P.specs()) {
    auto v = P.view(a.theta, p.name).contiguous().to_vector<double>();
    if (p.name.find("bn") != std::string::npos || p.name.find("shortcut.1") != std::string::npos) {
      const double want = p.name.ends_with(".weight") ? 1.0 : 0.0;
      for (double x : v) ASSERT_EQ(x, want) << p.name;
      continue;
    }
    // U(-b, b) with b = 1/sqrt(fan_in): every value inside, mean ~0 and variance ~b^2/3.
    const int64_t fan_in = p.name.starts_with("linear") ? p.shape[1] : p.shape.numel() / p.shape[0];
    const double b = 1.0 / std::sqrt(double(fan_in));
    double m = 0, m2 = 0;
    for (double x : v) {
      ASSERT_LE(std::abs(x), b) << p.name;
      m += x;
      m2 += x * x;
    }
    m /= double(v.size());
    m2 /= double(v.size());
    if (v.size() >= 2000) {
      EXPECT_NEAR(m / b, 0.0, 5 / std::sqrt(3.0 * double(v.size()))) << p.name;
      EXPECT_NEAR(m2 / (b * b), 1.0 / 3.0, 0.05) << p.name;
    }
  }
  auto rs = a.buffers.to_vector<double>();
  for (const ParamSpec& p : a.model->buffers().specs())
    for (int64_t i = 0; i < p.numel(); ++i)
      ASSERT_EQ(rs[size_t(p.offset + i)], p.name.ends_with("running_var") ? 1.0 : 0.0) << p.name;
}

TEST(Models, InitialisationIsDeterministicAndKeyedByName) {
  Instance a(config("resnet18", 8), DType::f64, 7), b(config("resnet18", 8), DType::f64, 7),
      c(config("resnet18", 8), DType::f64, 8), f(config("resnet18", 8), DType::f32, 7),
      g(config("resnet18_gn", 8), DType::f64, 7);
  EXPECT_TRUE(all_close(a.theta, b.theta, 0, 0));
  EXPECT_FALSE(all_close(a.theta, c.theta, 0.1, 0));
  EXPECT_TRUE(all_close(f.theta, a.theta.to(DType::f32), 0, 0));  // f32 gets the f64 values rounded
  // Same names, same values: the GN variant shares every conv and linear weight with the BN one.
  EXPECT_TRUE(all_close(g.theta, a.theta, 0, 0));
  // Different parameters get different streams.
  const ParamLayout& P = a.model->params();
  EXPECT_FALSE(all_close(P.view(a.theta, "layer1.0.conv1.weight"), P.view(a.theta, "layer1.0.conv2.weight"), 0.1, 0));
  // The generator itself: a pure function of (seed, stream, counter) in [0, 1).
  EXPECT_EQ(counter_uniform(3, stream_id("x"), 17), counter_uniform(3, stream_id("x"), 17));
  EXPECT_NE(counter_uniform(3, stream_id("x"), 17), counter_uniform(3, stream_id("y"), 17));
  std::vector<double> u(1000);
  fill_uniform(u.data(), 1000, 0.0, 1.0, 3, 5);
  for (size_t i = 0; i < u.size(); ++i) {
    ASSERT_GE(u[i], 0.0);
    ASSERT_LT(u[i], 1.0);
    ASSERT_EQ(u[i], counter_uniform(3, 5, i));
  }
}

TEST(Models, ForwardShapesForEveryModel) {
  for (const char* name : {"resnet18", "resnet18_gn", "wrn16_4", "convnet3"}) {
    for (int64_t size : {32, 16}) {
      ModelConfig c = config(name, 8, size, 7);
      Instance m(c, DType::f32);
      Tape t(Stream::cpu());
      Var th = t.leaf(m.theta, true);
      Var out = m.model->forward(t, th, m.buffers, t.leaf(images(3, c, DType::f32)), true);
      EXPECT_EQ(t.value(out).shape(), (Shape{3, 7})) << name << " " << size;
      auto g = t.grad(cross_entropy(t, out, Tensor::from_vector<int64_t>({0, 3, 6}, {3})), {th});
      EXPECT_EQ(g[0].shape(), m.theta.shape()) << "one flat gradient";
    }
  }
}

TEST(Models, ForwardFeaturesFeedTheClassifier) {
  struct Case {
    const char* name;
    const char* classifier;
    int64_t features;  // at width 8, 16x16 inputs
  };
  for (const Case& k : {Case{"resnet18", "linear", 64}, Case{"resnet18_gn", "linear", 64}, Case{"wrn16_4", "fc", 32},
                        Case{"convnet3", "classifier", 8 * 2 * 2}}) {
    ModelConfig c = config(k.name, 8, 16, 7);
    Instance m(c, DType::f64);
    Tape t(Stream::cpu());
    NoGrad off(t);
    Tensor x = images(3, c, DType::f64);
    ModelOutputs o = m.model->forward_features(t, t.leaf(m.theta), m.buffers, t.leaf(x), false);
    Tensor h = t.value(o.features), z = t.value(o.logits);
    ASSERT_EQ(h.shape(), (Shape{3, k.features})) << k.name;
    ASSERT_EQ(z.shape(), (Shape{3, 7})) << k.name;
    EXPECT_TRUE(all_close(z, t.value(m.model->forward(t, t.leaf(m.theta), m.buffers, t.leaf(x), false)), 0, 0));
    std::vector<double> w = m.model->params().view(m.theta, std::string(k.classifier) + ".weight").contiguous().to_vector<double>();
    std::vector<double> b = m.model->params().view(m.theta, std::string(k.classifier) + ".bias").to_vector<double>();
    std::vector<double> hv = h.contiguous().to_vector<double>(), zv = z.to_vector<double>();
    for (int64_t i = 0; i < 3; ++i)
      for (int64_t j = 0; j < 7; ++j) {
        double want = b[size_t(j)];
        for (int64_t f = 0; f < k.features; ++f) want += w[size_t(j * k.features + f)] * hv[size_t(i * k.features + f)];
        EXPECT_NEAR(zv[size_t(i * 7 + j)], want, 1e-10) << k.name;
      }
  }
}

TEST(Models, TrainModeUpdatesRunningStatsAndEvalIsPerSample) {
  ModelConfig c = config("resnet18", 4, 16);
  Instance m(c, DType::f64);
  Tensor x = images(4, c, DType::f64);
  Tensor before = m.buffers.clone();
  {
    Tape t(Stream::cpu());
    m.model->forward(t, t.leaf(m.theta), m.buffers, t.leaf(x), true);
  }
  EXPECT_FALSE(all_close(m.buffers, before, 1e-3, 0));
  Tensor saved = m.buffers.clone();
  Tape t(Stream::cpu());
  NoGrad off(t);
  Tensor all = t.value(m.model->forward(t, t.leaf(m.theta), m.buffers, t.leaf(x), false));
  Tensor one = t.value(m.model->forward(t, t.leaf(m.theta), m.buffers, t.leaf(x.narrow(0, 2, 1).contiguous()), false));
  EXPECT_TRUE(all_close(one, all.narrow(0, 2, 1), 1e-12, 1e-12));
  EXPECT_TRUE(all_close(m.buffers, saved, 0, 0)) << "eval mode must not touch the running statistics";
}

TEST(Models, GradientsMatchFiniteDifferences) {
  struct Case {
    const char* name;
    int64_t width;
    bool training;
  };
  for (Case k : {Case{"resnet18", 2, true}, Case{"resnet18", 2, false}, Case{"resnet18_gn", 4, true},
                 Case{"wrn16_4", 8, true}, Case{"convnet3", 4, true}}) {
    SCOPED_TRACE(k.name);
    ModelConfig c = config(k.name, k.width, 16, 3);
    Instance m(c, DType::f64);
    Tensor x = images(2, c, DType::f64);
    GradCheckOptions opt;
    opt.max_checks_per_input = 24;
    check_gradients(
        {m.theta, x}, {true, true},
        [&](Tape& t, const std::vector<Var>& v) { return m.model->forward(t, v[0], m.buffers, v[1], k.training); },
        opt);
  }
}

TEST(Models, Float32TracksFloat64) {
  // What the GPU comparison tests allow between CUDA and the CPU in f32 (tests/gpu/test_models_gpu.cpp),
  // checked here between f32 and f64 on the CPU.
  for (const char* name : {"resnet18", "resnet18_gn", "wrn16_4", "convnet3"}) {
    SCOPED_TRACE(name);
    ModelConfig c = config(name, 8, 16);
    Instance a(c, DType::f64), b(c, DType::f32);
    Tensor x = images(4, c, DType::f64);
    Tensor labels = Tensor::from_vector<int64_t>({1, 0, 9, 4}, {4});
    std::vector<Tensor> out[2];
    for (int i = 0; i < 2; ++i) {
      Instance& m = i ? b : a;
      Tape t(Stream::cpu());
      Var th = t.leaf(m.theta, true), xv = t.leaf(x.to(m.theta.dtype()), true);
      Var logits = m.model->forward(t, th, m.buffers, xv, true);
      auto g = t.grad(cross_entropy(t, logits, labels), {th, xv});
      out[i] = {t.value(logits), g[0], g[1], m.buffers};
    }
    for (size_t q = 0; q < out[0].size(); ++q) EXPECT_TRUE(all_close(out[1][q], out[0][q], 2e-3, 2e-4)) << q;
  }
}

TEST(Models, BadConfigurationsAndInputsThrow) {
  EXPECT_THROW(make_model(config("resnet34", 64)), Error);
  EXPECT_THROW(make_model(config("resnet18", 0)), Error);
  EXPECT_THROW(make_model(config("resnet18", 8, 32, 1)), Error);
  EXPECT_THROW(make_model(config("wrn16_4", 18)), Error);
  EXPECT_THROW(make_model(config("convnet3", 32, 4)), Error);

  ModelConfig c = config("resnet18", 4, 16);
  Instance m(c, DType::f32);
  Tape t(Stream::cpu());
  Var th = t.leaf(m.theta);
  EXPECT_THROW(m.model->forward(t, th, m.buffers, t.leaf(Tensor::zeros({2, 1, 16, 16}, DType::f32)), true), Error);
  EXPECT_THROW(m.model->forward(t, th, m.buffers, t.leaf(Tensor::zeros({2, 3, 32, 32}, DType::f32)), true), Error);
  EXPECT_THROW(m.model->forward(t, th, m.buffers, t.leaf(Tensor::zeros({2, 3, 16, 16}, DType::f64)), true), Error);
  Var x = t.leaf(Tensor::zeros({2, 3, 16, 16}, DType::f32));
  EXPECT_THROW(m.model->forward(t, th, Tensor(), x, true), Error);  // BN needs its running statistics
  EXPECT_THROW(m.model->forward(t, th, m.buffers.to(DType::f64), x, true), Error);
  EXPECT_THROW(m.model->forward(t, t.leaf(m.theta.narrow(0, 0, 100)), m.buffers, x, true), Error);
  EXPECT_THROW(m.model->init(Stream::cpu(), Tensor::empty({5}, DType::f32), m.buffers, 1), Error);
  EXPECT_THROW(m.model->init(Stream::cpu(), m.theta.to(DType::i32), m.buffers, 1), Error);
}
