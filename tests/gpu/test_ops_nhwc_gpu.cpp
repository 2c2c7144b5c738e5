// Channels-last (NHWC) ops on CUDA against the CPU: conv2d on cuDNN NHWC descriptors (forward, both
// gradients, double backward; strided 1x1, groups, dilation), batch norm with the channels-innermost partial
// reductions (shapes that need one and several row slices, channel counts that are and are not multiples of
// 32, running statistics), max / average / global average pooling, the permute op, and a whole channels-last
// ResNet-18 training step. Skips, printing why, without a GPU.
#include "kernels/pool.h"
#include "nn/model.h"
#include "nn/ops_conv.h"
#include "nn/ops_loss.h"
#include "nn/ops_norm.h"
#include "nn/ops_shape.h"
#include "tests/gpu/gpu_compare.h"

using namespace sp;
using namespace sp::ag;
using namespace sp::test;

SP_BACKEND_TESTED(permute);
SP_BACKEND2_TESTED(permute);

TEST(OpsNhwcGpu, ConvMatchesCpu) {
  SP_REQUIRE_GPU();
  struct C {
    Shape x, w;
    Conv2dParams p;
  };
  const C cases[] = {
      {{3, 7, 7, 8}, {8, 8, 3, 3}, {.padding = 1}},
      {{2, 8, 8, 16}, {32, 16, 3, 3}, {.stride = 2, .padding = 1}},
      {{5, 8, 8, 8}, {16, 8, 1, 1}, {.stride = 2}},
      {{2, 9, 9, 3}, {8, 3, 3, 3}, {.padding = 1}},
      {{2, 9, 9, 4}, {6, 2, 3, 3}, {.padding = 2, .dilation = 2, .groups = 2}},
  };
  Tf32Scope no_tf32(false);
  for (const C& c : cases)
    for (DType dt : {DType::f32, DType::f64}) {
      Conv2dParams p = c.p;
      p.layout = Layout::nhwc;
      const OpFn f = [p](Tape& t, const std::vector<Var>& v) { return conv2d(t, v[0], v[1], v[2], p); };
      const std::vector<Tensor> in = {randn(c.x, dt, 1), randn(c.w, dt, 2), randn({c.w[0]}, dt, 3)};
      compare_backends_scaled(in, {true, true, true}, f, dt == DType::f32 ? 1e-4 : 1e-10);
      if (dt == DType::f64) compare_double_backward(in, {true, true, true}, f, 1e-9, 1e-9);
    }
}

TEST(OpsNhwcGpu, BatchNormMatchesCpu) {
  SP_REQUIRE_GPU();
  for (Shape s : {Shape{2, 3, 5, 7}, Shape{8, 16, 16, 64}, Shape{4, 8, 8, 40}, Shape{32, 32, 32, 16}})
    for (bool training : {true, false}) {
      const int64_t C = s[3];
      const Tensor rm = randn({C}, DType::f32, 4), rv = rand_uniform({C}, DType::f32, 5, 0.5, 2.0);
      // Each backend updates its own copy of the running statistics; the updated copies must agree.
      const Tensor rm_cpu = rm.clone(), rv_cpu = rv.clone();
      Stream& gs = gpu_stream();
      const Tensor rm_gpu = rm.to(gs.device(), gs), rv_gpu = rv.to(gs.device(), gs);
      const OpFn f = [&](Tape& t, const std::vector<Var>& v) {
        const bool gpu = t.value(v[0]).device().is_cuda();
        return batch_norm(t, v[0], v[1], v[2], gpu ? rm_gpu : rm_cpu, gpu ? rv_gpu : rv_cpu, training, 0.1, 1e-5,
                          Layout::nhwc);
      };
      compare_backends({randn(s, DType::f32, 1, 2.0, 1.0), randn({C}, DType::f32, 2), randn({C}, DType::f32, 3)},
                       {true, true, true}, f, 1e-3, 1e-3);
      EXPECT_TRUE(all_close(rm_gpu, rm_cpu, 1e-5, 1e-6, gpu_stream())) << "running_mean " << s;
      EXPECT_TRUE(all_close(rv_gpu, rv_cpu, 1e-5, 1e-6, gpu_stream())) << "running_var " << s;
    }
}

TEST(OpsNhwcGpu, PoolsMatchCpu) {
  SP_REQUIRE_GPU();
  for (DType dt : {DType::f32, DType::f64}) {
    const Tensor x = randn({2, 9, 8, 24}, dt, 1);
    for (Pool2dOptions o : {Pool2dOptions{.kernel = 2}, Pool2dOptions{.kernel = 3, .stride = 2, .padding = 1}}) {
      o.layout = Layout::nhwc;
      compare_backends({x}, {true}, [o](Tape& t, const std::vector<Var>& v) { return max_pool2d(t, v[0], o); }, 1e-6,
                       1e-6);
      compare_backends({x}, {true}, [o](Tape& t, const std::vector<Var>& v) { return avg_pool2d(t, v[0], o); }, 1e-5,
                       1e-6);
    }
    const OpFn global = [](Tape& t, const std::vector<Var>& v) { return global_avg_pool(t, v[0], Layout::nhwc); };
    compare_backends({x}, {true}, global, 1e-5, 1e-6);
  }
}

TEST(OpsNhwcGpu, PermuteMatchesCpu) {
  SP_REQUIRE_GPU();
  const OpFn f = [](Tape& t, const std::vector<Var>& v) { return permute(t, v[0], {0, 2, 3, 1}); };
  compare_backends({randn({2, 3, 4, 5}, DType::f64, 1)}, {true}, f, 0, 0);
  compare_double_backward({randn({2, 3, 4, 5}, DType::f64, 2)}, {true}, f, 0, 0);
}

TEST(OpsNhwcGpu, ResNet18StepMatchesCpu) {
  SP_REQUIRE_GPU();
  ModelConfig cfg;
  cfg.width = 4;
  cfg.layout = ActivationLayout::nhwc;
  auto model = make_model(cfg);
  Tensor theta = Tensor::empty({model->params().numel()}, DType::f64);
  Tensor buf = Tensor::empty({model->buffers().numel()}, DType::f64);
  model->init(Stream::cpu(), theta, buf, 3);
  const Tensor x = randn({6, 3, 32, 32}, DType::f64, 4);
  const Tensor y = Tensor::from_vector(std::vector<int64_t>{1, 2, 3, 4, 5, 6}, {6});
  auto step = [&](Stream& s) {
    Tape t(s);
    Var th = t.leaf(theta.to(s.device(), s), true);
    Var logits = model->forward(t, th, buf.to(s.device(), s), t.leaf(x.to(s.device(), s)), true);
    return std::make_pair(t.value(logits), t.grad(ag::cross_entropy(t, logits, y.to(s.device(), s)), {th})[0]);
  };
  auto [cl, cg] = step(Stream::cpu());
  auto [gl, gg] = step(gpu_stream());
  EXPECT_TRUE(all_close(gl, cl, 1e-9, 1e-9, gpu_stream()));
  EXPECT_TRUE(all_close(gg, cg, 1e-8, 1e-9 * max_abs(cg), gpu_stream()));
}
