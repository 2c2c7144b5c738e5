// The float32 CPU fast path (kernels/cpu/fast_path.h) against the float64 reference kernels: conv2d forward,
// backward data and backward filter (on oneDNN in builds that have it: every geometry of the conv table,
// channel counts that take both activation layouts of kernels/cpu/dnnl_conv.cpp, beta accumulation, and
// repeated calls that reuse cached primitives), batch norm forward and backward (training and eval, with and
// without affine parameters and running statistics, with the fused residual and ReLU epilogue, accumulation), group norm forward and backward (instance
// norm as one group per channel included), and a whole ResNet-18 forward/backward at widths 2, 8 and 16 with
// the fast path on (channels-last by the automatic layout rule) and off. Also: the switch itself and its description.
#include <cmath>
#include <limits>

#include "kernels/batchnorm.h"
#include "kernels/conv.h"
#include "kernels/groupnorm.h"
#include "kernels/cpu/fast_path.h"
#include "nn/model.h"
#include "nn/ops_loss.h"
#include "tests/fast_path_scope.h"
#include "tests/test_util.h"

using namespace sp;
using namespace sp::test;

namespace {

struct ConvCase {
  const char* name;
  int64_t n, c, h, w, o, kh, kw;
  Conv2dParams p;
};

const ConvCase kConv[] = {
    {"3x3 stride 1, 8 channels (channels-last)", 4, 8, 9, 9, 8, 3, 3, {.stride = 1, .padding = 1}},
    {"3x3 stride 2, 16 -> 32 (blocked)", 3, 16, 8, 8, 32, 3, 3, {.stride = 2, .padding = 1}},
    {"1x1 stride 2 shortcut", 3, 8, 8, 8, 16, 1, 1, {.stride = 2}},
    {"image input, 3 channels", 2, 3, 12, 12, 16, 3, 3, {.padding = 1}},
    {"odd sizes 5x5", 2, 5, 11, 7, 6, 5, 5, {.padding = 2}},
    {"groups 2", 2, 4, 6, 6, 6, 3, 3, {.padding = 1, .groups = 2}},
    {"depthwise", 2, 16, 6, 6, 16, 3, 3, {.stride = 2, .padding = 1, .groups = 16}},
    {"dilation 2", 2, 4, 9, 9, 8, 3, 3, {.padding = 2, .dilation = 2}},
    {"non-square", 2, 3, 7, 10, 4, 3, 2, {.stride = {2, 1}, .padding = {1, 0}, .dilation = {1, 2}}},
    {"no padding, stride 3 leaves a remainder", 2, 8, 10, 10, 8, 3, 3, {.stride = 3}},
    // Batches cut into chunks (77 images: 7 chunks of 10 and one of 7), with filters reordered once and partial
    // filter gradients summed in the primitives' layout (blocked) or in the plain one (channels-last).
    {"chunked batch, blocked", 77, 16, 6, 6, 32, 3, 3, {.padding = 1}},
    {"chunked batch, channels-last", 77, 8, 6, 5, 8, 3, 3, {.stride = 2, .padding = 1}},
    {"chunked batch, strided 1x1", 77, 16, 6, 6, 32, 1, 1, {.stride = 2}},
};

Conv2dGeom geom(const ConvCase& k, DType dt) {
  return conv2d_geometry(Tensor::empty({k.n, k.c, k.h, k.w}, dt), Tensor::empty({k.o, k.c / k.p.groups, k.kh, k.kw}, dt),
                         k.p);
}

// f32 result of `run` with the fast path on, checked against the same computation in f64 on the reference.
template <class F>
void expect_matches_reference(const char* what, const char* name, double rtol, F&& run) {
  Tensor ref;
  {
    FastPath off(false);
    ref = run(DType::f64);
  }
  Tensor fast;
  {
    FastPath on(true);
    fast = run(DType::f32);
  }
  double scale = std::max(1.0, max_abs(ref));
  EXPECT_TRUE(all_close(fast, ref, rtol, rtol * scale)) << what << ": " << name;
}

}  // namespace

TEST(CpuFastPath, SwitchAndDescription) {
  FastPath on(true);
  EXPECT_TRUE(cpu::fast_path());
  std::string d = cpu::describe_cpu_kernels();
  EXPECT_NE(d.find("fast path"), std::string::npos) << d;
  if (cpu::dnnl_built()) EXPECT_NE(d.find("oneDNN"), std::string::npos) << d;
  cpu::set_fast_path(false);
  EXPECT_NE(cpu::describe_cpu_kernels().find("reference"), std::string::npos);
}

TEST(CpuFastPath, ConvMatchesReference) {
  for (const ConvCase& k : kConv) {
    Shape xs{k.n, k.c, k.h, k.w}, ws{k.o, k.c / k.p.groups, k.kh, k.kw};
    Shape ys = geom(k, DType::f64).y_shape();
    // Twice: the second round runs on the primitives cached by the first.
    for (int round = 0; round < 2; ++round) {
      expect_matches_reference("forward", k.name, 1e-5, [&](DType dt) {
        Tensor y = Tensor::full(ys, std::numeric_limits<double>::quiet_NaN(), dt);
        conv2d_forward(Stream::cpu(), y, randn(xs, dt, 1), randn(ws, dt, 2), geom(k, dt));
        return y;
      });
      for (double beta : {0.0, 1.0, 0.5}) {
        expect_matches_reference("backward data", k.name, 1e-5, [&](DType dt) {
          Tensor dx = beta == 0 ? Tensor::full(xs, std::numeric_limits<double>::quiet_NaN(), dt) : randn(xs, dt, 5);
          conv2d_backward_data(Stream::cpu(), dx, randn(ys, dt, 3), randn(ws, dt, 2), geom(k, dt), beta);
          return dx;
        });
        expect_matches_reference("backward filter", k.name, 1e-5, [&](DType dt) {
          Tensor dw = beta == 0 ? Tensor::full(ws, std::numeric_limits<double>::quiet_NaN(), dt) : randn(ws, dt, 6);
          conv2d_backward_filter(Stream::cpu(), dw, randn(ys, dt, 3), randn(xs, dt, 1), geom(k, dt), beta);
          return dw;
        });
      }
    }
  }
}

TEST(CpuFastPath, BatchNormMatchesReference) {
  struct BnCase {
    const char* name;
    Shape x;
    bool affine, running, training;
    bool residual = false, relu = false;  // the fused epilogue (kernels/batchnorm.h)
  };
  const BnCase cases[] = {
      {"training, affine, running stats", {6, 5, 7, 9}, true, true, true},
      {"training without affine or running stats", {3, 4, 5, 5}, false, false, true},
      {"eval", {4, 3, 6, 6}, true, true, false},
      {"[N, C] features", {17, 12}, true, true, true},
      {"rows shorter than the float lanes", {9, 2, 1, 3}, true, true, true},
      {"training with residual and ReLU", {6, 5, 7, 9}, true, true, true, true, true},
      {"training with ReLU only", {3, 4, 5, 5}, false, false, true, false, true},
      {"eval with residual only", {4, 3, 6, 6}, true, true, false, true, false},
      {"[N, C] with residual and ReLU", {70, 12}, true, true, true, true, true},
      {"[N, C] wider than a channel chunk, ReLU", {9, 300}, true, false, true, false, true},
  };
  for (const BnCase& k : cases) {
    const int64_t C = k.x[1];
    // Inputs far from zero mean: the variance must not come from E[x^2] - E[x]^2.
    auto inputs = [&](DType dt) {
      struct In {
        Tensor x, w, b, rm, rv, dy, res;
      } in;
      in.x = randn(k.x, dt, 11, 2.0, 50.0);
      in.w = k.affine ? randn({C}, dt, 12, 0.5, 1.0) : Tensor();
      in.b = k.affine ? randn({C}, dt, 13) : Tensor();
      in.rm = k.running ? randn({C}, dt, 14, 0.1, 49.0) : Tensor();
      in.rv = k.running ? rand_uniform({C}, dt, 15, 2.0, 6.0) : Tensor();
      in.dy = randn(k.x, dt, 16);
      in.res = k.residual ? randn(k.x, dt, 20) : Tensor();
      return in;
    };
    std::vector<std::string> parts = {"y",  "mean", "invstd", "running mean", "running var",
                                      "dx", "dw",   "db",     "dresidual"};
    for (size_t part = 0; part < parts.size(); ++part) {
      if (!k.running && (part == 3 || part == 4)) continue;
      if (!k.affine && (part == 6 || part == 7)) continue;
      if (!k.residual && part == 8) continue;
      expect_matches_reference(parts[part].c_str(), k.name, 2e-5, [&](DType dt) {
        auto in = inputs(dt);
        BatchNormFwdArgs f;
        f.y = Tensor::empty(k.x, dt);
        f.save_mean = Tensor::empty({C}, dt);
        f.save_invstd = Tensor::empty({C}, dt);
        f.x = in.x;
        f.weight = in.w;
        f.bias = in.b;
        f.running_mean = in.rm;
        f.running_var = in.rv;
        f.residual = in.res;
        f.relu = k.relu;
        f.training = k.training;
        batch_norm_forward(Stream::cpu(), f);
        // Accumulating backward: beta 1 on dx, 0.5 on the parameter and residual gradients.
        BatchNormBwdArgs b;
        b.dx = randn(k.x, dt, 17);
        b.dweight = k.affine ? randn({C}, dt, 18) : Tensor();
        b.dbias = k.affine ? randn({C}, dt, 19) : Tensor();
        b.dresidual = k.residual ? randn(k.x, dt, 21) : Tensor();
        b.dy = in.dy;
        b.x = in.x;
        b.save_mean = f.save_mean;
        b.save_invstd = f.save_invstd;
        b.weight = in.w;
        b.y = f.y;
        b.relu = k.relu;
        b.training = k.training;
        b.beta_x = 1.0;
        b.beta_w = b.beta_b = b.beta_r = 0.5;
        batch_norm_backward(Stream::cpu(), b);
        const Tensor* out[] = {&f.y, &f.save_mean, &f.save_invstd, &in.rm, &in.rv, &b.dx, &b.dweight, &b.dbias,
                               &b.dresidual};
        return *out[part];
      });
    }
  }
}

TEST(CpuFastPath, GroupNormMatchesReference) {
  struct GnCase {
    const char* name;
    Shape x;
    int64_t groups;
    bool affine;
    bool residual = false, relu = false;  // the fused epilogue (kernels/groupnorm.h)
  };
  const GnCase cases[] = {
      {"4 groups of 2 channels, affine", {3, 8, 5, 7}, 4, true},
      {"one group, no affine", {2, 6, 4, 4}, 1, false},
      {"instance norm (a group per channel)", {2, 5, 3, 9}, 5, true},
      {"planes shorter than the float lanes", {4, 6, 1, 3}, 2, true},
      {"instance norm with ReLU", {2, 5, 3, 9}, 5, true, false, true},
      {"groups with residual and ReLU", {3, 8, 5, 7}, 4, true, true, true},
      {"one group with residual, no affine", {2, 6, 4, 4}, 1, false, true, false},
  };
  for (const GnCase& k : cases) {
    const int64_t C = k.x[1];
    const Shape stats{k.x[0], k.groups};
    std::vector<std::string> parts = {"y", "mean", "invstd", "dx", "dw", "db", "dresidual"};
    for (size_t part = 0; part < parts.size(); ++part) {
      if (!k.affine && (part == 4 || part == 5)) continue;
      if (!k.residual && part == 6) continue;
      expect_matches_reference(parts[part].c_str(), k.name, 2e-5, [&](DType dt) {
        GroupNormFwdArgs f;
        f.x = randn(k.x, dt, 31, 3.0, -40.0);
        f.weight = k.affine ? randn({C}, dt, 33, 0.5, 1.0) : Tensor();
        f.bias = k.affine ? randn({C}, dt, 34) : Tensor();
        f.residual = k.residual ? randn(k.x, dt, 38) : Tensor();
        f.relu = k.relu;
        f.groups = k.groups;
        f.y = Tensor::empty(k.x, dt);
        f.save_mean = Tensor::empty(stats, dt);
        f.save_invstd = Tensor::empty(stats, dt);
        group_norm_forward(Stream::cpu(), f);
        // Accumulating backward: beta 0.5 on dx, 1 on dw, 0 on db, 0.5 on the residual's gradient.
        GroupNormBwdArgs b;
        b.dx = randn(k.x, dt, 35);
        b.dweight = k.affine ? randn({C}, dt, 36) : Tensor();
        b.dbias = k.affine ? randn({C}, dt, 37) : Tensor();
        b.dresidual = k.residual ? randn(k.x, dt, 39) : Tensor();
        b.dy = randn(k.x, dt, 32);
        b.x = f.x;
        b.save_mean = f.save_mean;
        b.save_invstd = f.save_invstd;
        b.weight = f.weight;
        b.y = f.y;
        b.relu = k.relu;
        b.groups = k.groups;
        b.beta_x = 0.5;
        b.beta_w = 1.0;
        b.beta_r = 0.5;
        group_norm_backward(Stream::cpu(), b);
        const Tensor* out[] = {&f.y, &f.save_mean, &f.save_invstd, &b.dx, &b.dweight, &b.dbias, &b.dresidual};
        return *out[part];
      });
    }
  }
}

// The f32 step runs channels-last (ModelConfig::layout's automatic rule on the fast path), every convolution
// on nhwc memory but the strided 1x1 shortcuts, which stay blocked behind reorders; tests/test_models_nhwc.cpp
// runs NCHW and NHWC explicitly. The odd batch of 43 (chunks of 8 and a last one of 3) is the shape whose
// strided 1x1 shortcut convolutions once corrupted the heap inside oneDNN (see act_tag in
// kernels/cpu/dnnl_conv.cpp).
TEST(CpuFastPath, ResNet18StepMatchesReference) {
  for (auto [width, batch] : {std::pair<int64_t, int64_t>{2, 43}, {8, 6}, {16, 6}}) {
    ModelConfig cfg;
    cfg.width = width;
    auto model = make_model(cfg);
    Tensor theta64 = Tensor::empty({model->params().numel()}, DType::f64);
    Tensor buf64 = Tensor::empty({model->buffers().numel()}, DType::f64);
    model->init(Stream::cpu(), theta64, buf64, 7);
    Tensor x64 = randn({batch, 3, 32, 32}, DType::f64, 21);
    std::vector<int64_t> labels(static_cast<size_t>(batch));
    for (int64_t i = 0; i < batch; ++i) labels[size_t(i)] = (i * 7) % 10;
    Tensor y = Tensor::from_vector(labels, {batch});
    auto step = [&](DType dt, bool fast) {
      FastPath mode(fast);
      Tape t(Stream::cpu());
      Tensor buffers = buf64.to(dt);
      Var th = t.leaf(theta64.to(dt), true);
      Var logits = model->forward(t, th, buffers, t.leaf(x64.to(dt)), true);
      Var loss = ag::cross_entropy(t, logits, y);
      return std::make_pair(t.value(logits), t.grad(loss, {th})[0]);
    };
    auto [ref_logits, ref_grad] = step(DType::f64, false);
    auto [logits, grad] = step(DType::f32, true);
    EXPECT_TRUE(all_close(logits, ref_logits, 1e-4, 1e-4 * max_abs(ref_logits))) << "width " << width;
    EXPECT_TRUE(all_close(grad, ref_grad, 1e-3, 1e-4 * max_abs(ref_grad))) << "width " << width;
  }
}
