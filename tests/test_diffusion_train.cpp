// The pieces of the diffusion paradigm below the shadow job: UNet training (paradigms/diffusion/unet_trainer.h: the
// loss falls on a tiny set, the EMA starts equal to the weights and then follows its rule, the warm-up, a state
// restored mid-run ends with the same bytes), the fixed-query denoising losses (identical for identical models,
// independent of the batch size), the generation plan and quantisation (generation.h), and the nearest generated
// image (memorization.h) against a brute-force loop, an exact copy found at distance 0.
#include <gtest/gtest.h>

#include <cmath>

#include "data/procedural.h"
#include "nn/models/ddpm_unet.h"
#include "paradigms/diffusion/generation.h"
#include "paradigms/diffusion/memorization.h"
#include "paradigms/diffusion/unet_trainer.h"
#include "tests/test_util.h"

using namespace sp;
using namespace sp::diffusion;

namespace {

models::UNetConfig tiny_unet() {
  models::UNetConfig c;
  c.ch = 8;
  c.ch_mult = {1, 2};
  c.num_res_blocks = 1;
  c.attn_resolutions = {16};
  c.dropout = 0.1;
  c.norm_groups = 4;
  c.image_size = 32;
  c.num_classes = 10;
  return c;
}

DeviceData tiny_data(int64_t n) { return DeviceData::upload(data::make_shapes10(n, 5), Stream::cpu()); }

TrainConfig tiny_train() {
  TrainConfig c;
  c.batch = 8;
  c.lr = 2e-3;
  c.warmup = 3;
  c.ema = 0.9;
  return c;
}

}  // namespace

TEST(DiffusionTrain, LossFallsAndTheEmaFollowsItsRule) {
  auto unet = models::make_ddpm_unet(tiny_unet());
  const NoiseSchedule ns = NoiseSchedule::linear(100);
  DeviceData d = tiny_data(16);
  UNetTrainer tr(*unet, tiny_train(), ns, d, 7, Stream::cpu());
  EXPECT_DOUBLE_EQ(tr.lr_at(0), 2e-3 / 3);
  EXPECT_DOUBLE_EQ(tr.lr_at(2), 2e-3);
  EXPECT_DOUBLE_EQ(tr.lr_at(50), 2e-3);
  double first = 0, last = 0;
  for (int i = 0; i < 40; ++i) {
    const std::vector<float> before = tr.ema().to_vector<float>(), theta_before = tr.theta().to_vector<float>();
    const double l = tr.step();
    ASSERT_TRUE(std::isfinite(l));
    if (i < 5) first += l / 5;
    if (i >= 35) last += l / 5;
    const std::vector<float> ema = tr.ema().to_vector<float>(), theta = tr.theta().to_vector<float>();
    if (i == 0) {
      EXPECT_EQ(ema, theta) << "the EMA starts equal to the weights";
    } else if (i == 1) {
      for (size_t j = 0; j < ema.size(); j += 997)
        EXPECT_NEAR(ema[j], 0.9f * before[j] + 0.1f * theta[j], 1e-6) << j;
    }
    (void)theta_before;
  }
  EXPECT_LT(last, 0.8 * first) << "the denoising loss falls (first " << first << ", last " << last << ")";
  EXPECT_GT(tr.last_grad_norm(), 0.0);
}

TEST(DiffusionTrain, RestoredStateEndsWithTheSameBytes) {
  auto unet = models::make_ddpm_unet(tiny_unet());
  const NoiseSchedule ns = NoiseSchedule::linear(100);
  DeviceData d = tiny_data(16);
  UNetTrainer a(*unet, tiny_train(), ns, d, 3, Stream::cpu());
  for (int i = 0; i < 6; ++i) a.step();
  std::map<std::string, Tensor> st;
  for (auto& [k, v] : a.state()) st[k] = v.clone();
  for (int i = 0; i < 4; ++i) a.step();
  UNetTrainer b(*unet, tiny_train(), ns, d, 3, Stream::cpu());
  b.load_state(st, "state");
  EXPECT_EQ(b.steps_done(), 6);
  for (int i = 0; i < 4; ++i) b.step();
  EXPECT_EQ(a.theta().to_vector<float>(), b.theta().to_vector<float>());
  EXPECT_EQ(a.ema().to_vector<float>(), b.ema().to_vector<float>());
  // Another UNet's state is refused naming the file.
  models::UNetConfig other = tiny_unet();
  other.ch = 12;
  auto wide = models::make_ddpm_unet(other);
  UNetTrainer c(*wide, tiny_train(), ns, d, 3, Stream::cpu());
  try {
    c.load_state(st, "ck.safetensors");
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("ck.safetensors: unet.theta holds"), std::string::npos) << e.what();
  }
}

TEST(DiffusionTrain, FixedQueryLossesAreTheSameForTheSameModel) {
  auto unet = models::make_ddpm_unet(tiny_unet());
  const NoiseSchedule ns = NoiseSchedule::linear(100);
  DeviceData d = tiny_data(6);
  UNetTrainer tr(*unet, tiny_train(), ns, d, 1, Stream::cpu());
  for (int i = 0; i < 3; ++i) tr.step();
  std::vector<int64_t> ids{0, 1, 2, 3, 4, 5};
  Tensor x0 = to_model_space(Stream::cpu(), d.images, ids, {});
  std::vector<float> xv = x0.to_vector<float>();
  for (float v : xv) ASSERT_TRUE(v >= -1.0f - 1e-6f && v <= 1.0f + 1e-6f) << v;
  const std::vector<int64_t> labels = d.host_labels, steps{5, 60};
  auto l4 = denoising_losses(Stream::cpu(), *unet, tr.ema(), ns, x0, labels, ids, steps, 2, 99, 4);
  auto l6 = denoising_losses(Stream::cpu(), *unet, tr.ema(), ns, x0, labels, ids, steps, 2, 99, 6);
  ASSERT_EQ(l4.size(), 6u);
  ASSERT_EQ(l4[0].size(), 4u);
  EXPECT_EQ(l4, l6) << "a sample's queries do not depend on the batch it is in";
  for (const auto& row : l4)
    for (double v : row) EXPECT_TRUE(std::isfinite(v) && v > 0);
  auto other_key = denoising_losses(Stream::cpu(), *unet, tr.ema(), ns, x0, labels, ids, steps, 2, 100, 6);
  EXPECT_NE(l4, other_key);
  // Larger timesteps are harder to denoise for an untrained model only on average; the losses differ per query.
  EXPECT_NE(l4[0][0], l4[0][2]);
}

TEST(DiffusionGeneration, PlanQuantiseAndNearest) {
  DiffusionConfig c;
  c.mode = Mode::img2img;
  c.per_image = 2;
  GenerationPlan p = plan_generation(c, {3, 1, 4}, 10);
  EXPECT_EQ(p.labels, (std::vector<int64_t>{3, 1, 4, 3, 1, 4}));
  EXPECT_EQ(p.source, (std::vector<int64_t>{0, 1, 2, 0, 1, 2}));
  c.mode = Mode::class_conditional;
  c.per_class = 2;
  p = plan_generation(c, {3, 1, 4}, 3);
  EXPECT_EQ(p.labels, (std::vector<int64_t>{0, 0, 1, 1, 2, 2}));
  EXPECT_EQ(p.source, (std::vector<int64_t>(6, -1)));

  Tensor q = quantize(Stream::cpu(), Tensor::from_vector<float>({-1.0f, -2.0f, 0.0f, 1.0f, 3.0f, NAN}, {1, 1, 2, 3}));
  EXPECT_EQ(q.to_vector<uint8_t>(), (std::vector<uint8_t>{0, 0, 128, 255, 255, 0}));

  data::Dataset a = data::make_shapes10(5, 1), g = data::make_shapes10(9, 2);
  // Generated image 4 is an exact copy of query 2.
  g.images.narrow(0, 4, 1).copy_(a.images.narrow(0, 2, 1));
  Nearest n = nearest_generated(Stream::cpu(), a.images, g.images);
  const std::vector<uint8_t> av = a.images.to_vector<uint8_t>(), gv = g.images.to_vector<uint8_t>();
  const int64_t D = 3 * 32 * 32;
  for (int64_t i = 0; i < 5; ++i) {
    double best = 1e30;
    int64_t arg = -1;
    for (int64_t j = 0; j < 9; ++j) {
      double s = 0;
      for (int64_t k = 0; k < D; ++k) {
        const double d = (double(av[size_t(i * D + k)]) - double(gv[size_t(j * D + k)])) / 255.0;
        s += d * d;
      }
      if (s < best) best = s, arg = j;
    }
    EXPECT_EQ(n.index[size_t(i)], arg) << i;
    EXPECT_NEAR(n.distance[size_t(i)], std::sqrt(best / double(D)), 1e-12) << i;
  }
  EXPECT_EQ(n.index[2], 4);
  EXPECT_EQ(n.distance[2], 0.0) << "the reported distance is recomputed exactly";
  EXPECT_THROW(nearest_generated(Stream::cpu(), a.images, Tensor::empty({0, 3, 32, 32}, DType::u8)), Error);
}
