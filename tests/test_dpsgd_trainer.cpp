// The DP-SGD step (paradigms/dpsgd/dp_trainer.h) on the CPU: with a huge sigma the update's per-coordinate
// variance is sigma^2 C^2 / (qN)^2 (noise scaled by the expected batch size), the same seed gives a
// bit-identical run and another seed does not, an epoch checkpoint (theta, optimiser, EMA) resumes to the
// same parameters, the EMA follows its decay rule, and an empty Poisson batch is a noise-only step.
#include <cmath>

#include "kernels/counter_rng.h"
#include "paradigms/dpsgd/dp_trainer.h"
#include "tests/test_util.h"

using namespace sp;

namespace {

ModelConfig tiny_model() {
  ModelConfig mc;
  mc.name = "wrn16_4";
  mc.width = 4;
  mc.num_classes = 4;
  mc.image_size = 8;
  return mc;
}

DeviceData tiny_data(int64_t n) {
  std::vector<uint8_t> px(static_cast<size_t>(n * 3 * 8 * 8));
  std::vector<int64_t> labels(static_cast<size_t>(n));
  crng::Stream32 r(99, 0);
  for (auto& b : px) b = uint8_t(r.next_u32() >> 24);
  for (auto& y : labels) y = int64_t(r.below(4));
  DeviceData d;
  d.images = Tensor::from_vector(px, {n, 3, 8, 8});
  d.labels = Tensor::from_vector(labels, {n});
  d.host_labels = labels;
  return d;
}

TrainRecipe sgd_recipe(int64_t batch, int epochs, double lr) {
  TrainRecipe r;
  r.epochs = epochs;
  r.batch_size = batch;
  r.schedule.base_lr = lr;
  return r;
}

dpsgd::DpsgdSettings settings(double sigma, int64_t K, double ema) {
  dpsgd::DpsgdSettings d;
  d.noise_multiplier = sigma;
  d.augmult = K;
  d.physical_batch = 5;
  d.ema_decay = ema;
  return d;
}

}  // namespace

TEST(DpsgdTrainer, NoiseVarianceIsScaledByTheExpectedBatch) {
  auto model = make_model(tiny_model());
  const int64_t n = 64, B = 16;
  const double sigma = 1e4, lr = 1.0;
  DeviceData data = tiny_data(n);
  Trainer tr(*model, sgd_recipe(B, 1, lr), Stream::cpu(), 1);
  dpsgd::DpsgdSettings d = settings(sigma, 1, 0);
  dpsgd::DpPlan plan = dpsgd::plan_dpsgd(d, n, B, 1);
  EXPECT_DOUBLE_EQ(plan.sample_rate, 0.25);
  EXPECT_EQ(plan.steps_per_epoch, 4);
  dpsgd::DpTrainer dp(tr, d, plan, 7, Stream::cpu());
  const std::vector<float> before = tr.theta().to_vector<float>();
  dp.step(data, {0, 3, 4, 9, 10, 11, 30, 31, 40, 41, 42, 43, 50, 51, 60, 63, 2}, 0);
  auto after = tr.theta().to_vector<float>();
  const int64_t P = int64_t(after.size());
  ASSERT_GE(P, 2000);
  double mean = 0, var = 0;
  for (int64_t j = 0; j < P; ++j) mean += (double(after[size_t(j)]) - double(before[size_t(j)])) / lr;
  mean /= double(P);
  for (int64_t j = 0; j < P; ++j) {
    double u = (double(after[size_t(j)]) - double(before[size_t(j)])) / lr - mean;
    var += u * u;
  }
  var /= double(P - 1);
  const double want = sigma * sigma / (plan.expected_batch() * plan.expected_batch());
  EXPECT_NEAR(var / want, 1.0, 5 * std::sqrt(2.0 / double(P)));
  EXPECT_NEAR(mean, 0.0, 5 * std::sqrt(want / double(P)));
}

TEST(DpsgdTrainer, SameSeedSameRunAndResumeIsExact) {
  auto model = make_model(tiny_model());
  const int64_t n = 20, B = 5;
  DeviceData data = tiny_data(n);
  dpsgd::DpsgdSettings d = settings(0.8, 2, 0.999);
  dpsgd::DpPlan plan = dpsgd::plan_dpsgd(d, n, B, 2);
  auto run = [&](uint64_t seed, int epochs) {
    Trainer tr(*model, sgd_recipe(B, 2, 0.5), Stream::cpu(), 3);
    dpsgd::DpTrainer dp(tr, d, plan, seed, Stream::cpu());
    for (int e = 0; e < epochs; ++e) dp.train_epoch(data, e);
    return std::make_pair(tr.theta().to_vector<float>(), dp.ema().to_vector<float>());
  };
  auto a = run(11, 2), b = run(11, 2), c = run(12, 2);
  EXPECT_EQ(a.first, b.first);
  EXPECT_EQ(a.second, b.second);
  EXPECT_NE(a.first, c.first);

  // Resume: epoch 0 in one trainer, its state (theta, optimiser steps, EMA) moved to a fresh one, epoch 1 there.
  Trainer t1(*model, sgd_recipe(B, 2, 0.5), Stream::cpu(), 3);
  dpsgd::DpTrainer d1(t1, d, plan, 11, Stream::cpu());
  d1.train_epoch(data, 0);
  Trainer t2(*model, sgd_recipe(B, 2, 0.5), Stream::cpu(), 3);
  dpsgd::DpTrainer d2(t2, d, plan, 11, Stream::cpu());
  t2.theta().copy_(t1.theta());
  t2.optimizer().load_state(t1.optimizer().state());
  d2.ema().copy_(d1.ema());
  d2.train_epoch(data, 1);
  EXPECT_EQ(t2.theta().to_vector<float>(), a.first);
  EXPECT_EQ(d2.ema().to_vector<float>(), a.second);
}

TEST(DpsgdTrainer, EmaFollowsItsDecayAndEmptyBatchIsNoiseOnly) {
  auto model = make_model(tiny_model());
  const int64_t n = 20;
  DeviceData data = tiny_data(n);
  dpsgd::DpsgdSettings d = settings(0.5, 1, 0.9999);
  Trainer tr(*model, sgd_recipe(4, 1, 0.1), Stream::cpu(), 3);
  dpsgd::DpTrainer dp(tr, d, dpsgd::plan_dpsgd(d, n, 4, 1), 5, Stream::cpu());
  auto ema0 = dp.ema().to_vector<float>();
  EXPECT_EQ(ema0, tr.theta().to_vector<float>());
  dp.step(data, {}, 0);  // an empty Poisson batch: noise only, still a step
  EXPECT_EQ(tr.optimizer().steps(), 1);
  auto th1 = tr.theta().to_vector<float>(), ema1 = dp.ema().to_vector<float>();
  EXPECT_NE(th1, ema0);
  const double decay = 2.0 / 11.0;  // min(0.9999, (1 + t) / (10 + t)) at t = 1
  for (size_t j = 0; j < th1.size(); j += 97)
    EXPECT_NEAR(ema1[j], decay * ema0[j] + (1 - decay) * th1[j], 1e-6) << j;
  dp.finish();
  EXPECT_EQ(tr.theta().to_vector<float>(), ema1);
}
