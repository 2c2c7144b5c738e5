// Per-example gradients (paradigms/dpsgd/per_sample_grad.h) in f64 on the CPU: for tiny WRN-16-4 and
// ResNet-18-GN models they equal the gradients of one-sample batches (averaged over the K augmented copies
// of an example), their squared norms match, the clipped sum equals sum_e f_e g_e with every clipped
// gradient of norm <= C, and batch-norm models are refused.
#include <cmath>

#include "kernels/dp_sgd.h"
#include "nn/ops_loss.h"
#include "paradigms/dpsgd/per_sample_grad.h"
#include "tests/test_util.h"

using namespace sp;
using namespace sp::ag;

namespace {

ModelConfig tiny(const std::string& name, int64_t width) {
  ModelConfig mc;
  mc.name = name;
  mc.width = width;
  mc.num_classes = 3;
  mc.in_channels = 2;
  mc.image_size = 8;
  return mc;
}

// theta of the model in f64, initialised and then perturbed so norm weights and biases are not at 1 / 0.
Tensor init_theta(const Model& m, uint64_t seed) {
  Tensor th = Tensor::empty({m.params().numel()}, DType::f64);
  m.init(Stream::cpu(), th, Tensor(), seed);
  Tensor noise = test::randn(th.shape(), DType::f64, seed + 1, 0.05);
  auto a = th.to_vector<double>(), b = noise.to_vector<double>();
  for (size_t i = 0; i < a.size(); ++i) a[i] += b[i];
  return Tensor::from_vector(a, th.shape());
}

// The gradient of the cross-entropy of one sample (a batch of one) w.r.t. theta.
std::vector<double> one_sample_grad(const Model& m, const Tensor& theta, const Tensor& x, int64_t label) {
  Tape t(Stream::cpu());
  Var th = t.leaf(theta, true);
  Var z = m.forward(t, th, Tensor(), t.leaf(x.unsqueeze(0).contiguous(), false), true);
  Var loss = cross_entropy(t, z, Tensor::from_vector<int64_t>({label}, {1}));
  return t.grad(loss, {th})[0].to_vector<double>();
}

void check_against_one_sample_batches(const ModelConfig& mc, int64_t B, int64_t K) {
  SCOPED_TRACE(mc.name + " B " + std::to_string(B) + " K " + std::to_string(K));
  auto model = make_model(mc);
  const int64_t P = model->params().numel();
  Tensor theta = init_theta(*model, 5);
  Tensor x = test::randn({K * B, mc.in_channels, mc.image_size, mc.image_size}, DType::f64, 9);
  std::vector<int64_t> ex_labels(static_cast<size_t>(B)), labels(static_cast<size_t>(K * B));
  for (int64_t e = 0; e < B; ++e) ex_labels[size_t(e)] = (e * 7 + 1) % mc.num_classes;
  for (int64_t k = 0; k < K; ++k)
    for (int64_t e = 0; e < B; ++e) labels[size_t(k * B + e)] = ex_labels[size_t(e)];

  dpsgd::PerSampleGrads psg(*model);
  psg.compute(Stream::cpu(), theta, Tensor(), x, Tensor::from_vector(labels, {K * B}), K);
  ASSERT_EQ(psg.examples(), B);
  auto dense = psg.dense(Stream::cpu()).to_vector<double>();
  auto sq = psg.sq_norms().to_vector<double>();
  for (int64_t e = 0; e < B; ++e) {
    std::vector<double> want(static_cast<size_t>(P), 0.0);
    for (int64_t k = 0; k < K; ++k) {
      auto g = one_sample_grad(*model, theta, x.select(0, k * B + e), ex_labels[size_t(e)]);
      for (int64_t j = 0; j < P; ++j) want[size_t(j)] += g[size_t(j)] / double(K);
    }
    double norm2 = 0, worst = 0, scale = 0;
    for (int64_t j = 0; j < P; ++j) {
      norm2 += want[size_t(j)] * want[size_t(j)];
      worst = std::max(worst, std::abs(dense[size_t(e * P + j)] - want[size_t(j)]));
      scale = std::max(scale, std::abs(want[size_t(j)]));
    }
    EXPECT_GT(scale, 1e-6) << "degenerate gradient";
    EXPECT_LE(worst, 1e-10 * std::max(1.0, scale)) << "example " << e;
    EXPECT_NEAR(sq[size_t(e)], norm2, 1e-10 * norm2) << "example " << e;
  }
}

}  // namespace

TEST(DpsgdPerSample, WrnEqualsOneSampleBatches) { check_against_one_sample_batches(tiny("wrn16_4", 8), 3, 1); }

TEST(DpsgdPerSample, WrnWithAugmentationMultiplicityAveragesCopies) {
  check_against_one_sample_batches(tiny("wrn16_4", 8), 2, 3);
}

TEST(DpsgdPerSample, ResNet18GnEqualsOneSampleBatches) {
  check_against_one_sample_batches(tiny("resnet18_gn", 2), 2, 2);
}

TEST(DpsgdPerSample, ClippedSumHasBoundedTerms) {
  ModelConfig mc = tiny("wrn16_4", 8);
  auto model = make_model(mc);
  const int64_t P = model->params().numel(), B = 4;
  Tensor theta = init_theta(*model, 2);
  Tensor x = test::randn({B, 2, 8, 8}, DType::f64, 3);
  dpsgd::PerSampleGrads psg(*model);
  psg.compute(Stream::cpu(), theta, Tensor(), x, Tensor::from_vector<int64_t>({0, 1, 2, 0}, {B}), 1);
  auto sq = psg.sq_norms().to_vector<double>();
  // C between the smallest and the largest norm: some examples are clipped, some not.
  std::vector<double> norms;
  for (double v : sq) norms.push_back(std::sqrt(v));
  const double C = 0.5 * (*std::min_element(norms.begin(), norms.end()) + *std::max_element(norms.begin(), norms.end()));
  Tensor f = Tensor::empty({B}, DType::f64);
  clip_factors(Stream::cpu(), f, psg.sq_norms(), C);
  auto fv = f.to_vector<double>();
  int clipped = 0;
  for (int64_t e = 0; e < B; ++e) {
    EXPECT_LE(fv[size_t(e)] * norms[size_t(e)], C * (1 + 1e-12)) << "example " << e;
    clipped += fv[size_t(e)] < 1 ? 1 : 0;
  }
  EXPECT_GT(clipped, 0);
  EXPECT_LT(clipped, B);
  // The accumulated sum (added to an existing value) is sum_e f_e g_e.
  Tensor acc = Tensor::full({P}, 0.25, DType::f64);
  psg.accumulate(Stream::cpu(), acc, f);
  auto dense = psg.dense(Stream::cpu()).to_vector<double>();
  auto a = acc.to_vector<double>();
  for (int64_t j = 0; j < P; ++j) {
    double want = 0.25;
    for (int64_t e = 0; e < B; ++e) want += fv[size_t(e)] * dense[size_t(e * P + j)];
    ASSERT_NEAR(a[size_t(j)], want, 1e-12) << j;
  }
}

TEST(DpsgdPerSample, BatchNormModelIsRefused) {
  ModelConfig mc = tiny("resnet18", 2);
  auto model = make_model(mc);
  test::expect_error_mentioning([&] { dpsgd::PerSampleGrads psg(*model); }, "batch norm");
  test::expect_error_mentioning([&] { dpsgd::check_dp_model(*model); }, "resnet18_gn");
}
