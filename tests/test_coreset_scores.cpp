// Score-based coreset scores against hand-computed values: the softmax, EL2N (the error-vector norm),
// GraNd's closed form (checked also against the explicit last-layer gradient norm), and the three
// uncertainty scores; and score_rows over several samples.
#include <cmath>

#include "paradigms/coreset/scores.h"
#include "tests/test_util.h"

using namespace sp;
using namespace sp::coreset;

TEST(CoresetScores, HandComputedValues) {
  // logits (ln 1, ln 2, ln 5): softmax (0.125, 0.25, 0.625).
  const std::vector<float> z = {0.0f, float(std::log(2.0)), float(std::log(5.0))};
  std::vector<double> p = softmax(z);
  EXPECT_NEAR(p[0], 0.125, 1e-7);
  EXPECT_NEAR(p[1], 0.25, 1e-7);
  EXPECT_NEAR(p[2], 0.625, 1e-7);
  // EL2N for label 2: ||(0.125, 0.25, -0.375)|| = sqrt(0.015625 + 0.0625 + 0.140625) = sqrt(0.21875).
  EXPECT_NEAR(el2n_score(z, 2), std::sqrt(0.21875), 1e-7);
  // Label 0: ||(-0.875, 0.25, 0.625)|| = sqrt(0.765625 + 0.0625 + 0.390625) = sqrt(1.21875).
  EXPECT_NEAR(el2n_score(z, 0), std::sqrt(1.21875), 1e-7);
  // GraNd with features h = (3, 4): ||p - y|| * sqrt(25 + 1).
  const std::vector<float> h = {3.0f, 4.0f};
  EXPECT_NEAR(grand_score(z, 2, h), std::sqrt(0.21875) * std::sqrt(26.0), 1e-6);
  // Uncertainty: least confidence 1 - 0.625; entropy -sum p ln p; margin 0.25 - 0.625.
  EXPECT_NEAR(uncertainty_score(z, Uncertainty::least_confidence), 0.375, 1e-7);
  double H = -(0.125 * std::log(0.125) + 0.25 * std::log(0.25) + 0.625 * std::log(0.625));
  EXPECT_NEAR(uncertainty_score(z, Uncertainty::entropy), H, 1e-7);
  EXPECT_NEAR(uncertainty_score(z, Uncertainty::margin), -0.375, 1e-7);
  // A uniform prediction is maximally uncertain by every measure.
  const std::vector<float> flat = {1.0f, 1.0f, 1.0f};
  EXPECT_NEAR(uncertainty_score(flat, Uncertainty::entropy), std::log(3.0), 1e-12);
  EXPECT_NEAR(uncertainty_score(flat, Uncertainty::margin), 0.0, 1e-12);
  // Large logits do not overflow.
  EXPECT_NEAR(el2n_score(std::vector<float>{1000.0f, 0.0f}, 0), 0.0, 1e-12);
  EXPECT_THROW(el2n_score(z, 3), Error);
}

TEST(CoresetScores, GrandIsTheLastLayerGradientNorm) {
  // Cross-entropy of logits W h + b: dL/dW = (p - y) h^T, dL/db = p - y; its Frobenius norm, summed explicitly.
  const std::vector<float> z = {0.3f, -1.2f, 2.0f, 0.1f};
  const std::vector<float> h = {0.5f, -2.0f, 1.5f};
  const int64_t y = 1;
  std::vector<double> p = softmax(z);
  double sq = 0;
  for (size_t c = 0; c < z.size(); ++c) {
    double e = p[c] - (int64_t(c) == y ? 1.0 : 0.0);
    for (float hv : h) sq += (e * hv) * (e * hv);
    sq += e * e;
  }
  EXPECT_NEAR(grand_score(z, y, h), std::sqrt(sq), 1e-6);
}

TEST(CoresetScores, ScoreRowsGoesSampleBySample) {
  const std::vector<float> logits = {0, 0, /**/ 2, 0, /**/ 0, 3};
  const std::vector<int64_t> labels = {0, 1, 1};
  const std::vector<float> feats = {1, 0, /**/ 0, 0, /**/ 2, 2};
  std::vector<double> e = score_rows(Method::el2n, Uncertainty::entropy, logits, 2, labels, {}, 0);
  ASSERT_EQ(e.size(), 3u);
  for (int i = 0; i < 3; ++i)
    EXPECT_DOUBLE_EQ(e[size_t(i)], el2n_score(std::span<const float>(logits.data() + 2 * i, 2), labels[size_t(i)]));
  std::vector<double> g = score_rows(Method::grand, Uncertainty::entropy, logits, 2, labels, feats, 2);
  EXPECT_NEAR(g[0], e[0] * std::sqrt(2.0), 1e-12);
  EXPECT_NEAR(g[1], e[1], 1e-12);
  EXPECT_NEAR(g[2], e[2] * 3.0, 1e-12);
  std::vector<double> u = score_rows(Method::uncertainty, Uncertainty::least_confidence, logits, 2, labels, {}, 0);
  EXPECT_NEAR(u[0], 0.5, 1e-12);
  EXPECT_GT(u[1], u[2]);  // margin 2 is less confident than margin 3
  EXPECT_THROW(score_rows(Method::grand, Uncertainty::entropy, logits, 2, labels, {}, 0), Error);
  EXPECT_THROW(score_rows(Method::herding, Uncertainty::entropy, logits, 2, labels, {}, 0), Error);
  EXPECT_THROW(score_rows(Method::el2n, Uncertainty::entropy, logits, 3, labels, {}, 0), Error);
}
