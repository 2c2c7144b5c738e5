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

TEST(DiffusionGeneration, GuidanceWeightsOnTheUNet) {
  // On a real (perturbed) UNet: weight 0 is the conditional prediction, weight -1 (diffusers' scale 0) the
  // unconditional one (to float rounding: the guided call runs one batch of 2B).
  auto unet = models::make_ddpm_unet(tiny_unet());
  Tensor theta = Tensor::empty({unet->params().numel()}, DType::f32);
  unet->init(Stream::cpu(), theta, Tensor(), 2);
  theta = test::randn(theta.shape(), DType::f32, 3, 0.05);
  const EpsFn eps = eps_of(Stream::cpu(), *unet, theta);
  const Tensor x = test::randn({3, 3, 32, 32}, DType::f32, 4);
  const std::vector<int64_t> y{1, 5, 9};
  const std::vector<double> t(3, 300.0);
  const std::vector<float> cond = eps(x, t, y).to_vector<float>();
  const std::vector<float> uncond = eps(x, t, {10, 10, 10}).to_vector<float>();
  EXPECT_NE(cond, uncond);
  EXPECT_EQ(guided_eps(Stream::cpu(), eps, x, 300, y, 0.0, 10).to_vector<float>(), cond);
  const std::vector<float> gu = guided_eps(Stream::cpu(), eps, x, 300, y, -1.0, 10).to_vector<float>();
  for (size_t i = 0; i < gu.size(); ++i) ASSERT_NEAR(gu[i], uncond[i], 1e-6) << i;  // one 2B batch vs B rows
  const std::vector<float> g2 = guided_eps(Stream::cpu(), eps, x, 300, y, 2.0, 10).to_vector<float>();
  for (size_t i = 0; i < g2.size(); i += 101) EXPECT_NEAR(g2[i], 3 * cond[i] - 2 * uncond[i], 1e-5) << i;
}

TEST(DiffusionGeneration, AnOracleNoisePredictorRecoversTheImage) {
  // With the exact noise of x_t given x0, eps = (x_t - sqrt(ab_t) x0) / sqrt(1 - ab_t), every sampler returns x0:
  // the schedule, the timesteps handed to the model and the updates agree with each other.
  const NoiseSchedule ns = NoiseSchedule::linear(1000);
  const Tensor x0 = test::rand_uniform({2, 3, 8, 8}, DType::f32, 5, -0.9, 0.9);
  const std::vector<float> want = x0.to_vector<float>();
  const EpsFn oracle = [&](const Tensor& x, const std::vector<double>& t, const std::vector<int64_t>&) {
    std::vector<float> v = x.to_vector<float>(), out(v.size());
    const size_t per = v.size() / t.size();
    for (size_t i = 0; i < v.size(); ++i) {
      const double ab = ns.alpha_bar[size_t(t[i / per])];
      out[i] = float((double(v[i]) - std::sqrt(ab) * double(want[i % want.size()])) / std::sqrt(1 - ab));
    }
    return Tensor::from_vector(out, x.shape());
  };
  for (SamplerKind kind : {SamplerKind::ddim, SamplerKind::ddpm}) {
    SamplerConfig c;
    c.kind = kind;
    c.steps = 50;
    const std::vector<float> got = sdedit(Stream::cpu(), ns, c, oracle, x0, {1, 2}, 0.75, 9).to_vector<float>();
    for (size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], want[i], 2e-3) << (kind == SamplerKind::ddim ? "ddim " : "ddpm ") << i;
  }
}

TEST(DiffusionTrain, ADdpmTrainedOnOneImagePerClassGeneratesIt) {
  // End to end at 8x8: a UNet trained on two fixed images (one per class) generates, from noise and conditioned on
  // the class, that class's training image, and SDEdit from either image returns it: training, the EMA, the label
  // embedding and the samplers work together.
  models::UNetConfig u;
  u.ch = 16;
  u.ch_mult = {1, 2};
  u.num_res_blocks = 1;
  u.attn_resolutions = {4};
  u.dropout = 0.0;
  u.norm_groups = 4;
  u.image_size = 8;
  u.num_classes = 2;
  auto unet = models::make_ddpm_unet(u);
  data::Dataset d = data::make_dataset("two images", 8, 3, 8, 8, {"a", "b"});
  std::vector<uint8_t> px(size_t(8 * 3 * 64));
  std::vector<int64_t> labels(8);
  for (int64_t i = 0; i < 8; ++i) {
    labels[size_t(i)] = i % 2;
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t p = 0; p < 64; ++p)  // class 0: a bright left half on dark; class 1: a coloured checkerboard
        px[size_t((i * 3 + c) * 64 + p)] = i % 2 == 0 ? (p % 8 < 4 ? 230 : 20) : uint8_t(((p / 8 + p % 8) % 2) ? 40 + 90 * c : 200 - 60 * c);
  }
  d.images = Tensor::from_vector(px, {8, 3, 8, 8});
  d.labels = Tensor::from_vector(labels, {8});
  DeviceData dd = DeviceData::upload(d, Stream::cpu());
  const NoiseSchedule ns = NoiseSchedule::linear(1000);
  TrainConfig tc;
  tc.batch = 16;
  tc.lr = 3e-3;
  tc.warmup = 20;
  tc.ema = 0.95;
  tc.flip = false;
  UNetTrainer tr(*unet, tc, ns, dd, 11, Stream::cpu());
  for (int i = 0; i < 600; ++i) ASSERT_TRUE(std::isfinite(tr.step()));
  auto rms = [&](const Tensor& got, int64_t image) {
    const std::vector<uint8_t> g = got.to_vector<uint8_t>();
    double s = 0;
    for (size_t j = 0; j < g.size(); ++j) {
      const double e = (double(g[j]) - double(px[size_t(image * 192) + j % 192])) / 255.0;
      s += e * e;
    }
    return std::sqrt(s / double(g.size()));
  };
  DiffusionConfig c;
  c.mode = Mode::class_conditional;
  c.per_class = 1;
  c.sample.steps = 50;
  c.sample.guidance = 0.0;
  c.sample.null_label = 2;
  GenerationPlan plan = plan_generation(c, labels, 2);
  // Ancestral DDPM and stochastic DDIM (eta 1) from noise: each class's image. (Deterministic DDIM, eta 0, does not
  // find them with a model this undertrained, though it does with the exact denoiser: see the test below.)
  for (auto [kind, eta] : {std::pair{SamplerKind::ddpm, 0.0}, std::pair{SamplerKind::ddim, 1.0}}) {
    c.sample.kind = kind;
    c.sample.eta = eta;
    Tensor g = generate_rows(Stream::cpu(), *unet, tr.ema(), ns, c, plan, dd, 0, 2, 5);
    EXPECT_LT(rms(g.narrow(0, 0, 1).contiguous(), 0), 0.1) << (kind == SamplerKind::ddpm ? "ddpm" : "ddim eta 1");
    EXPECT_LT(rms(g.narrow(0, 1, 1).contiguous(), 1), 0.1) << (kind == SamplerKind::ddpm ? "ddpm" : "ddim eta 1");
  }
  // SDEdit at 0.75 from each class's image returns it.
  c.mode = Mode::img2img;
  c.strength = 0.75;
  c.sample.kind = SamplerKind::ddpm;
  plan = plan_generation(c, labels, 2);
  Tensor g = generate_rows(Stream::cpu(), *unet, tr.ema(), ns, c, plan, dd, 0, 2, 5);
  EXPECT_LT(rms(g.narrow(0, 0, 1).contiguous(), 0), 0.1) << "sdedit";
  EXPECT_LT(rms(g.narrow(0, 1, 1).contiguous(), 1), 0.1) << "sdedit";
}

TEST(DiffusionGeneration, DdimWithTheExactTwoPointDenoiserLandsOnATrainingPoint) {
  // The exact noise predictor of a distribution of two images A and B (the posterior mean of x0 given x_t is their
  // softmax-weighted average): deterministic and stochastic DDIM, with and without clipping, end exactly on A or B.
  const NoiseSchedule ns = NoiseSchedule::linear(1000);
  const int64_t D = 3 * 8 * 8;
  const std::vector<float> a = test::rand_uniform({D}, DType::f32, 1, -1, 1).to_vector<float>();
  const std::vector<float> b = test::rand_uniform({D}, DType::f32, 2, -1, 1).to_vector<float>();
  const EpsFn exact = [&](const Tensor& x, const std::vector<double>& t, const std::vector<int64_t>&) {
    std::vector<float> v = x.to_vector<float>(), out(v.size());
    for (size_t n = 0; n < t.size(); ++n) {
      const double ab = ns.alpha_bar[size_t(t[n])], sa = std::sqrt(ab), s1 = std::sqrt(1 - ab);
      double da = 0, db = 0;
      for (int64_t i = 0; i < D; ++i) {
        const double x_ = v[size_t(int64_t(n) * D + i)];
        da += (x_ - sa * a[size_t(i)]) * (x_ - sa * a[size_t(i)]);
        db += (x_ - sa * b[size_t(i)]) * (x_ - sa * b[size_t(i)]);
      }
      const double m = std::min(da, db), wa = std::exp(-(da - m) / (2 * (1 - ab))), wb = std::exp(-(db - m) / (2 * (1 - ab)));
      for (int64_t i = 0; i < D; ++i) {
        const size_t k = size_t(int64_t(n) * D + i);
        out[k] = float((v[k] - sa * (wa * a[size_t(i)] + wb * b[size_t(i)]) / (wa + wb)) / s1);
      }
    }
    return Tensor::from_vector(out, x.shape());
  };
  int landed_a = 0, landed_b = 0;
  for (double eta : {0.0, 1.0})
    for (bool clip : {true, false}) {
      SamplerConfig c;
      c.steps = 50;
      c.eta = eta;
      c.clip_x0 = clip;
      const std::vector<float> v = sample(Stream::cpu(), ns, c, exact, std::vector<int64_t>(6, 0), Shape{3, 8, 8}, 7).to_vector<float>();
      for (int64_t n = 0; n < 6; ++n) {
        double ra = 0, rb = 0;
        for (int64_t i = 0; i < D; ++i) {
          ra = std::max(ra, double(std::abs(v[size_t(n * D + i)] - a[size_t(i)])));
          rb = std::max(rb, double(std::abs(v[size_t(n * D + i)] - b[size_t(i)])));
        }
        EXPECT_LT(std::min(ra, rb), 1e-4) << "eta " << eta << " clip " << clip << " row " << n;
        (ra < rb ? landed_a : landed_b)++;
      }
    }
  EXPECT_GT(landed_a, 0);
  EXPECT_GT(landed_b, 0);
}
