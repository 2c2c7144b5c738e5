// Precision bf16 in the classifiers (ModelConfig::bf16, nn/models/layer_builder.h): every tensor a bf16 step
// stores is a bfloat16 value (the logits and features, each traced layer's input, the gradients of theta's
// conv and linear parameters, of the input batch and of each layer's output), the rounding sits exactly at
// the stored points (counted per model), f64 models round the same way, the logits stay close to float32's,
// and a few training steps at bf16 lower the loss, repeat bit for bit and keep theta a float32 master. That
// float32 is untouched by all this is pinned by tests/test_paradigm_digests.cpp.
#include <cmath>
#include <cstdio>

#include "data/procedural.h"
#include "kernels/round_bf16_math.h"
#include "nn/layer_trace.h"
#include "nn/model.h"
#include "nn/models/layer_builder.h"
#include "nn/ops_loss.h"
#include "paradigms/engine/train_loop.h"
#include "tests/test_util.h"

using namespace sp;
using namespace sp::test;

namespace {

ModelConfig config(const std::string& name, bool bf16, int64_t width = 4, int64_t image_size = 16) {
  ModelConfig c;
  c.name = name;
  c.width = width;
  c.image_size = image_size;
  c.num_classes = 7;
  c.bf16 = bf16;
  return c;
}

struct Instance {
  std::unique_ptr<Model> model;
  Tensor theta, buffers;
  Instance(const ModelConfig& c, DType dt) : model(make_model(c)) {
    theta = Tensor::empty({model->params().numel()}, dt);
    buffers = Tensor::empty({model->buffers().numel()}, dt);
    model->init(Stream::cpu(), theta, buffers, 3);
  }
};

template <class T>
::testing::AssertionResult bf16_values_of(const std::vector<T>& v, const std::string& what) {
  for (size_t i = 0; i < v.size(); ++i)
    if (!(prec::round_bf16(v[i]) == v[i]))
      return ::testing::AssertionFailure() << what << "[" << i << "] = " << std::hexfloat << double(v[i])
                                           << " is not a bf16 value";
  return ::testing::AssertionSuccess();
}

// Whether every element of x (f32 or f64) is a bfloat16 value, naming the first that is not.
::testing::AssertionResult bf16_values(const Tensor& x, const std::string& what) {
  Tensor c = x.contiguous();
  return c.dtype() == DType::f64 ? bf16_values_of(c.to_vector<double>(), what)
                                 : bf16_values_of(c.to_vector<float>(), what);
}

// Relative L2 distance of a from b.
double relative_distance(const Tensor& a, const Tensor& b) {
  std::vector<double> x = a.to(DType::f64).to_vector<double>(), y = b.to(DType::f64).to_vector<double>();
  double d = 0, n = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    d += (x[i] - y[i]) * (x[i] - y[i]);
    n += y[i] * y[i];
  }
  return std::sqrt(d / n);
}

const Tensor& labels() {
  static Tensor l = Tensor::from_vector<int64_t>({0, 3, 6}, {3});
  return l;
}

// The rounds one forward records for each model: the input, per conv its weight (and bias) and output, per
// norm its output (with its fused epilogue: LayerBuilder::norm_act; ResNet-18's residual sums are inside it),
// per other residual sum and pool its output, and the classifier's weight, bias and logits.
struct Case {
  const char* name;
  int rounds;
};
const Case kCases[] = {
    {"resnet18", 1 + 20 * 2 + 20 + 1 + 3},          // 20 convs (stem, 16 in blocks, 3 shortcuts)
    {"resnet18_gn", 1 + 20 * 2 + 20 + 1 + 3},
    {"wrn16_4", 1 + 16 * 2 + 13 + 6 + 1 + 3},       // 16 convs, 13 norms, 6 blocks
    {"convnet3", 1 + 3 * 3 + 3 + 3 + 3},            // 3 convs with bias, 3 norms, 3 pools
};

}  // namespace

TEST(ModelsBf16, EveryStoredTensorAndGradientIsABf16Value) {
  for (const Case& k : kCases) {
    for (DType dt : {DType::f32, DType::f64}) {
      SCOPED_TRACE(std::string(k.name) + " " + std::string(dtype_name(dt)));
      const ModelConfig c = config(k.name, true);
      Instance m(c, dt);
      Tape t(Stream::cpu());
      Var th = t.leaf(m.theta, true);
      Var x = t.leaf(randn({3, 3, 16, 16}, dt, 5), true);
      LayerTrace trace;
      ModelOutputs o = m.model->forward_features(t, th, m.buffers, x, true);
      EXPECT_TRUE(bf16_values(t.value(o.logits), "logits"));
      EXPECT_TRUE(bf16_values(t.value(o.features), "features"));
      std::vector<Var> wrt = {th, x};
      for (const TracedLayer& l : trace.layers()) {
        EXPECT_TRUE(bf16_values(t.value(l.x), "a layer's input"));
        wrt.push_back(l.y);
      }
      std::vector<Tensor> g = t.grad(ag::cross_entropy(t, o.logits, labels()), wrt);
      EXPECT_TRUE(bf16_values(g[1], "d loss / d input"));
      for (size_t i = 0; i < trace.layers().size(); ++i) {
        const TracedLayer& l = trace.layers()[i];
        // A layer's output gradient is the stored gradient of its rounded output.
        EXPECT_TRUE(bf16_values(g[2 + i], "d loss / d layer output " + std::to_string(i)));
        if (l.kind != TracedLayer::Kind::conv && l.kind != TracedLayer::Kind::linear) continue;
        // The gradient of a bf16 weight copy is a stored gradient too, and it is what reaches theta.
        EXPECT_TRUE(bf16_values(g[0].narrow(0, l.weight_offset, l.weight_shape.numel()), "weight gradient"));
        if (l.bias_offset >= 0)
          EXPECT_TRUE(bf16_values(g[0].narrow(0, l.bias_offset, l.bias_shape.numel()), "bias gradient"));
      }
      double norm = 0;
      for (double v : g[0].to(DType::f64).to_vector<double>()) norm += v * v;
      EXPECT_TRUE(std::isfinite(norm) && norm > 0) << "a gradient of theta";
    }
  }
}

TEST(ModelsBf16, RoundsExactlyWhereABf16StepStores) {
  const bool fused = models::fuse_norm_epilogue();  // the counts are the fused layers' (SP_FUSED_NORM)
  models::set_fuse_norm_epilogue(true);
  struct Restore {
    bool v;
    ~Restore() { models::set_fuse_norm_epilogue(v); }
  } restore{fused};
  for (const Case& k : kCases) {
    SCOPED_TRACE(k.name);
    auto nodes = [&](bool bf16) {
      Instance m(config(k.name, bf16), DType::f32);
      Tape t(Stream::cpu());
      // The input needs a gradient too, or its round is not recorded.
      m.model->forward(t, t.leaf(m.theta, true), m.buffers, t.leaf(randn({2, 3, 16, 16}, DType::f32, 5), true), true);
      return t.num_nodes();
    };
    EXPECT_EQ(nodes(true) - nodes(false), k.rounds);
  }
}

TEST(ModelsBf16, LogitsStayCloseToFloat32s) {
  for (const Case& k : kCases) {
    for (bool training : {true, false}) {
      SCOPED_TRACE(std::string(k.name) + (training ? " training" : " eval"));
      Tensor x = randn({3, 3, 16, 16}, DType::f32, 5);
      auto logits = [&](bool bf16) {
        Instance m(config(k.name, bf16), DType::f32);
        Tape t(Stream::cpu());
        NoGrad off(t);
        return t.value(m.model->forward(t, t.leaf(m.theta), m.buffers, t.leaf(x), training)).clone();
      };
      const Tensor z16 = logits(true), z32 = logits(false);
      EXPECT_TRUE(bf16_values(z16, "logits"));
      const double d = relative_distance(z16, z32);
      std::printf("%s %s: bf16 logits %.2g from float32's (relative L2)\n", k.name, training ? "training" : "eval", d);
      EXPECT_GT(d, 0.0) << "bf16 rounds";
      EXPECT_LT(d, 0.05) << "bf16 keeps 8 significant bits";
    }
  }
}

namespace {

TrainRecipe recipe() {
  TrainRecipe r;
  r.epochs = 3;
  r.batch_size = 32;
  r.optim.kind = OptimKind::sgd;
  r.optim.momentum = 0.9;
  r.optim.nesterov = true;
  r.optim.weight_decay = 5e-4;
  r.schedule.base_lr = 0.05;
  return r;
}

struct TrainedRun {
  std::vector<double> losses;
  std::vector<float> theta;
};

TrainedRun train(bool bf16) {
  static const data::Dataset d = data::make_shapes10(96, 4, "train");
  ModelConfig c = config("resnet18", bf16, 4, 32);
  c.num_classes = 10;
  std::unique_ptr<Model> model = make_model(c);
  Trainer tr(*model, recipe(), Stream::cpu(), 11);
  DeviceData data = DeviceData::upload(d, Stream::cpu());
  TrainedRun r;
  for (int e = 0; e < 3; ++e) r.losses.push_back(tr.train_epoch(data, e).loss);
  r.theta = tr.theta().to_vector<float>();
  return r;
}

}  // namespace

TEST(ModelsBf16, TrainingLowersTheLossRepeatablyWithFloat32Masters) {
  const TrainedRun a = train(true), b = train(true), fp32 = train(false);
  std::printf("epoch losses, bf16: %.4f %.4f %.4f; fp32: %.4f %.4f %.4f\n", a.losses[0], a.losses[1], a.losses[2],
              fp32.losses[0], fp32.losses[1], fp32.losses[2]);
  EXPECT_LT(a.losses.back(), a.losses.front()) << a.losses[0] << " -> " << a.losses[2];
  EXPECT_EQ(a.losses, b.losses);
  EXPECT_EQ(a.theta, b.theta) << "bit for bit";
  EXPECT_NE(a.theta, fp32.theta) << "bf16 is another run than fp32";
  // The optimiser updates the float32 master: theta is not rounded to bf16 (only its copies are).
  size_t off_grid = 0;
  for (float v : a.theta) off_grid += prec::round_bf16(v) != v;
  EXPECT_GT(off_grid, a.theta.size() / 2);
}
