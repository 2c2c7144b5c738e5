// DP-SGD on CUDA against the CPU reference: the unfold (bit for bit), squared row norms over rows
// longer than one block chunk and with accumulation, clipping factors, the counter-based noise (same values on
// both backends), per-example gradients of a tiny WRN-16-4 with K = 2 copies, and whole DP-SGD steps (Poisson
// batch, augmentation, clipping, noise, EMA). TF32 is off so the GEMMs are full fp32. Skips without a GPU.
#include <cmath>

#include "kernels/counter_rng.h"
#include "kernels/dp_sgd.h"
#include "kernels/unfold.h"
#include "paradigms/dpsgd/dp_trainer.h"
#include "paradigms/dpsgd/poisson_sampler.h"
#include "tests/gpu/gpu_compare.h"

using namespace sp;
using namespace sp::test;

namespace {

Tensor on_gpu(const Tensor& t) { return t.to(Device::cuda(0), gpu_stream()); }

ModelConfig tiny_model(int64_t width) {
  ModelConfig mc;
  mc.name = "wrn16_4";
  mc.width = width;
  mc.num_classes = 4;
  mc.image_size = 16;
  return mc;
}

DeviceData tiny_data(int64_t n, const ModelConfig& mc) {
  std::vector<uint8_t> px(static_cast<size_t>(n * 3 * mc.image_size * mc.image_size));
  std::vector<int64_t> labels(static_cast<size_t>(n));
  crng::Stream32 r(77, 0);
  for (auto& b : px) b = uint8_t(r.next_u32() >> 24);
  for (auto& y : labels) y = int64_t(r.below(uint32_t(mc.num_classes)));
  DeviceData d;
  d.images = Tensor::from_vector(px, {n, 3, mc.image_size, mc.image_size});
  d.labels = Tensor::from_vector(labels, {n});
  d.host_labels = labels;
  return d;
}

DeviceData to_gpu(const DeviceData& d) {
  DeviceData g = d;
  g.images = on_gpu(d.images);
  g.labels = on_gpu(d.labels);
  return g;
}

}  // namespace

TEST(DpsgdGpu, UnfoldMatchesCpuExactly) {
  SP_REQUIRE_GPU();
  struct Case {
    Shape x, w;
    Conv2dParams p;
  };
  std::vector<Case> cases = {{{8, 16, 32, 32}, {32, 16, 3, 3}, {{1}, {1}, {1}, 1}},
                             {{12, 5, 9, 11}, {4, 5, 3, 3}, {{2}, {1}, {1}, 1}},
                             {{4, 8, 16, 16}, {16, 8, 1, 1}, {{2}, {0}, {1}, 1}},
                             {{2, 3, 7, 7}, {2, 3, 3, 2}, {{1, 2}, {2, 0}, {2, 1}, 1}}};
  for (const Case& c : cases)
    for (DType dt : {DType::f32, DType::f64}) {
      Tensor x = randn(c.x, dt, 5);
      Conv2dGeom g = conv2d_geometry(x, Tensor::empty(c.w, dt), c.p);
      Tensor want = Tensor::empty(unfold_shape(g), dt), got = Tensor::empty(unfold_shape(g), dt, gpu_stream());
      unfold(Stream::cpu(), want, x, g);
      unfold(gpu_stream(), got, on_gpu(x), g);
      EXPECT_EQ(as_doubles(got, gpu_stream()), as_doubles(want)) << x.str();
    }
}

TEST(DpsgdGpu, RowNormsClipFactorsAndNoiseMatchCpu) {
  SP_REQUIRE_GPU();
  Stream& s = gpu_stream();
  for (DType dt : {DType::f32, DType::f64}) {
    // Rows of 20000 elements span three 8192-element chunks; a second block accumulates with beta 1.
    for (Shape shape : {Shape{3, 20000}, Shape{70, 5}, Shape{1, 1}}) {
      Tensor g1 = randn(shape, dt, 1), g2 = randn({shape[0], 9000}, dt, 2);
      Tensor want = Tensor::empty({shape[0]}, dt), got = Tensor::empty({shape[0]}, dt, s);
      row_sq_norm(Stream::cpu(), want, g1, 0.0);
      row_sq_norm(Stream::cpu(), want, g2, 1.0);
      row_sq_norm(s, got, on_gpu(g1), 0.0);
      row_sq_norm(s, got, on_gpu(g2), 1.0);
      EXPECT_TRUE(all_close(got, want, 1e-6, 0, s)) << shape;
      Tensor fw = Tensor::empty({shape[0]}, dt), fg = Tensor::empty({shape[0]}, dt, s);
      clip_factors(Stream::cpu(), fw, want, 50.0);
      clip_factors(s, fg, want.to(Device::cuda(0), s), 50.0);
      EXPECT_TRUE(all_close(fg, fw, 1e-6, 0, s));
    }
    for (int64_t n : {int64_t(1), int64_t(1001), int64_t(1) << 20}) {
      Tensor base = randn({n}, dt, 3);
      Tensor want = base.clone(), got = on_gpu(base);
      add_gaussian_noise(Stream::cpu(), want, 2.5, 1234, 99);
      add_gaussian_noise(s, got, 2.5, 1234, 99);
      EXPECT_TRUE(all_close(got, want, dt == DType::f64 ? 1e-13 : 1e-6, 1e-6, s)) << n;
    }
  }
}

TEST(DpsgdGpu, PerExampleGradientsMatchCpu) {
  SP_REQUIRE_GPU();
  Tf32Scope no_tf32(false);
  ModelConfig mc = tiny_model(16);
  auto model = make_model(mc);
  const int64_t B = 6, K = 2, P = model->params().numel();
  Tensor theta = Tensor::empty({P}, DType::f32);
  model->init(Stream::cpu(), theta, Tensor(), 3);
  Tensor x = randn({K * B, 3, 16, 16}, DType::f32, 4);
  std::vector<int64_t> labels(static_cast<size_t>(K * B));
  for (size_t i = 0; i < labels.size(); ++i) labels[i] = int64_t((i % size_t(B)) % 4);
  Tensor y = Tensor::from_vector(labels, {K * B});
  dpsgd::PerSampleGrads cpu(*model), gpu(*model);
  cpu.compute(Stream::cpu(), theta, Tensor(), x, y, K);
  gpu.compute(gpu_stream(), on_gpu(theta), Tensor(), on_gpu(x), on_gpu(y), K);
  Tensor want = cpu.dense(Stream::cpu()), got = gpu.dense(gpu_stream());
  EXPECT_TRUE(all_close(got, want, 1e-3, 1e-4 * max_abs(want), gpu_stream()));
  EXPECT_TRUE(all_close(gpu.sq_norms(), cpu.sq_norms(), 1e-4, 0, gpu_stream()));
  Tensor f = Tensor::full({B}, 0.5, DType::f32);
  Tensor acc_c = Tensor::zeros({P}, DType::f32), acc_g = Tensor::zeros({P}, DType::f32, gpu_stream());
  cpu.accumulate(Stream::cpu(), acc_c, f);
  gpu.accumulate(gpu_stream(), acc_g, on_gpu(f));
  EXPECT_TRUE(all_close(acc_g, acc_c, 1e-3, 1e-4 * max_abs(acc_c), gpu_stream()));
}

TEST(DpsgdGpu, TrainingStepsMatchCpu) {
  SP_REQUIRE_GPU();
  Tf32Scope no_tf32(false);
  ModelConfig mc = tiny_model(8);
  auto model = make_model(mc);
  const int64_t n = 40, B = 10;
  DeviceData data = tiny_data(n, mc);
  DeviceData gdata = to_gpu(data);
  dpsgd::DpsgdSettings d;
  d.noise_multiplier = 0.7;
  d.augmult = 2;
  d.physical_batch = 4;
  d.ema_decay = 0.999;
  dpsgd::DpPlan plan = dpsgd::plan_dpsgd(d, n, B, 1);
  TrainRecipe r;
  r.epochs = 1;
  r.batch_size = B;
  r.schedule.base_lr = 0.5;
  Trainer tc(*model, r, Stream::cpu(), 9), tg(*model, r, gpu_stream(), 9);
  dpsgd::DpTrainer dc(tc, d, plan, 4, Stream::cpu()), dg(tg, d, plan, 4, gpu_stream());
  for (int64_t t = 0; t < 3; ++t) {
    std::vector<int64_t> ids = dpsgd::poisson_batch(n, plan.sample_rate, 4, t);
    dc.step(data, ids, t);
    dg.step(gdata, ids, t);
  }
  EXPECT_TRUE(all_close(tg.theta(), tc.theta(), 1e-3, 1e-3, gpu_stream()));
  EXPECT_TRUE(all_close(dg.ema(), dc.ema(), 1e-3, 1e-3, gpu_stream()));
  // A whole epoch runs on the device and keeps finite metrics.
  EpochStats es = dg.train_epoch(gdata, 0);
  EXPECT_TRUE(std::isfinite(es.loss));
}
