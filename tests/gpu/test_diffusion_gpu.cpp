// The diffusion paradigm on the GPU: the DDPM UNet's forward pass and its gradients (dropout on, the same Philox
// masks on both backends), a few UNet training steps, the fixed-query denoising losses and a DDIM SDEdit chunk give
// on CUDA (TF32 off) what the CPU reference gives. Skips without a GPU.
#include <cmath>

#include "data/procedural.h"
#include "nn/models/ddpm_unet.h"
#include "nn/ops_elementwise.h"
#include "nn/ops_reduce.h"
#include "paradigms/diffusion/generation.h"
#include "paradigms/diffusion/unet_trainer.h"
#include "tests/gpu/gpu_test_util.h"
#include "tests/test_util.h"

using namespace sp;

namespace {

models::UNetConfig small_unet() {
  models::UNetConfig c;
  c.ch = 16;
  c.ch_mult = {1, 2};
  c.num_res_blocks = 1;
  c.attn_resolutions = {16};
  c.dropout = 0.1;
  c.norm_groups = 8;
  c.image_size = 32;
  c.num_classes = 10;
  return c;
}

struct TfOff {
  Stream& g;
  bool was;
  explicit TfOff(Stream& s) : g(s), was(s.allow_tf32) { g.allow_tf32 = false; }
  ~TfOff() { g.allow_tf32 = was; }
};

}  // namespace

TEST(DiffusionGpu, UNetForwardAndGradientsMatchTheCpu) {
  SP_REQUIRE_GPU();
  TfOff off(test::gpu_stream());
  auto u = models::make_ddpm_unet(small_unet());
  Tensor theta = Tensor::empty({u->params().numel()}, DType::f32);
  u->init(Stream::cpu(), theta, Tensor(), 4);
  theta = test::randn(theta.shape(), DType::f32, 5, 0.05);  // every layer carries signal
  const Tensor x = test::randn({4, 3, 32, 32}, DType::f32, 6);
  const models::DenoiseArgs a{{3, 250, 600, 999}, {0, 4, 9, 10}, true, 17, 2};
  test::compare_backends({theta, x}, {true, true},
                         [&](Tape& t, const std::vector<Var>& v) { return u->denoise(t, v[0], v[1], a); }, 2e-3, 2e-4);
}

TEST(DiffusionGpu, TrainingStepsLossesAndSdeditMatchTheCpu) {
  SP_REQUIRE_GPU();
  Stream& g = test::gpu_stream();
  TfOff off(g);
  auto u = models::make_ddpm_unet(small_unet());
  const diffusion::NoiseSchedule ns = diffusion::NoiseSchedule::linear(100);
  data::Dataset d = data::make_shapes10(24, 3);
  DeviceData dc = DeviceData::upload(d, Stream::cpu()), dg = DeviceData::upload(d, g);
  diffusion::TrainConfig tc;
  tc.batch = 8;
  tc.lr = 1e-3;
  tc.warmup = 2;
  diffusion::UNetTrainer a(*u, tc, ns, dc, 5, Stream::cpu()), b(*u, tc, ns, dg, 5, g);
  for (int i = 0; i < 3; ++i) {
    const double la = a.step(), lb = b.step();
    EXPECT_NEAR(lb, la, 1e-3 * (std::abs(la) + 1)) << "step " << i;
  }
  EXPECT_TRUE(test::all_close(b.ema(), a.ema(), 1e-3, 1e-5, g));

  std::vector<int64_t> ids{0, 1, 2, 3, 4, 5};
  Tensor xc = diffusion::to_model_space(Stream::cpu(), dc.images, ids, {}), xg = diffusion::to_model_space(g, dg.images, ids, {});
  auto lc = diffusion::denoising_losses(Stream::cpu(), *u, a.ema(), ns, xc, dc.host_labels, ids, {5, 50}, 2, 9, 4);
  auto lg = diffusion::denoising_losses(g, *u, a.ema().to(g.device(), g), ns, xg, dc.host_labels, ids, {5, 50}, 2, 9, 4);
  for (size_t i = 0; i < lc.size(); ++i)
    for (size_t q = 0; q < lc[i].size(); ++q) EXPECT_NEAR(lg[i][q], lc[i][q], 1e-3 * lc[i][q] + 1e-6) << i << " " << q;

  diffusion::DiffusionConfig c;
  c.mode = diffusion::Mode::img2img;
  c.strength = 0.5;
  c.sample.steps = 10;
  c.sample.guidance = 1.0;
  c.sample.null_label = 10;
  diffusion::GenerationPlan plan = diffusion::plan_generation(c, dc.host_labels, 10);
  Tensor gc = diffusion::generate_rows(Stream::cpu(), *u, a.ema(), ns, c, plan, dc, 0, 6, 21);
  Tensor gg = diffusion::generate_rows(g, *u, a.ema().to(g.device(), g), ns, c, plan, dg, 0, 6, 21);
  const std::vector<uint8_t> vc = gc.to_vector<uint8_t>(), vg = gg.to_vector<uint8_t>();
  int64_t off_by_more = 0;
  for (size_t i = 0; i < vc.size(); ++i) off_by_more += std::abs(int(vc[i]) - int(vg[i])) > 1;
  EXPECT_LE(off_by_more, int64_t(vc.size() / 1000)) << "8-bit SDEdit outputs agree to one level";
}
