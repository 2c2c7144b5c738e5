// Poisson sampling of DP-SGD batches: batch sizes have the Binomial(N, q) mean and variance, every example
// is included with frequency q, steps are independent and reproducible, q = 1 takes everyone, empty
// batches happen, and logical batches split into bounded physical ones.
#include <cmath>

#include "paradigms/dpsgd/poisson_sampler.h"
#include "tests/test_util.h"

using namespace sp;

TEST(DpsgdSampling, BatchSizesAreBinomial) {
  const int64_t n = 2000, steps = 3000;
  const double q = 0.05;
  double sum = 0, sum2 = 0;
  std::vector<int> hits(static_cast<size_t>(n), 0);
  for (int64_t t = 0; t < steps; ++t) {
    auto ids = dpsgd::poisson_batch(n, q, 42, t);
    ASSERT_TRUE(std::is_sorted(ids.begin(), ids.end()));
    for (int64_t i : ids) ++hits[size_t(i)];
    sum += double(ids.size());
    sum2 += double(ids.size()) * double(ids.size());
  }
  const double mean = sum / steps, var = sum2 / steps - mean * mean;
  const double want_mean = n * q, want_var = n * q * (1 - q);
  EXPECT_NEAR(mean, want_mean, 4 * std::sqrt(want_var / steps));
  // The sample variance of 3000 draws has a relative standard error of about sqrt(2 / 3000) = 2.6%.
  EXPECT_NEAR(var / want_var, 1.0, 0.11);
  // Per-example inclusion frequency: mean q, spread of a Binomial(steps, q) count.
  double f_mean = 0, f_var = 0;
  for (int h : hits) f_mean += double(h);
  f_mean /= n;
  for (int h : hits) f_var += (h - f_mean) * (h - f_mean);
  f_var /= n;
  EXPECT_NEAR(f_mean / steps, q, 0.002);
  EXPECT_NEAR(f_var / (steps * q * (1 - q)), 1.0, 0.15);
}

TEST(DpsgdSampling, ReproducibleIndependentAndEdgeCases) {
  EXPECT_EQ(dpsgd::poisson_batch(500, 0.3, 7, 11), dpsgd::poisson_batch(500, 0.3, 7, 11));
  EXPECT_NE(dpsgd::poisson_batch(500, 0.3, 7, 11), dpsgd::poisson_batch(500, 0.3, 7, 12));
  EXPECT_NE(dpsgd::poisson_batch(500, 0.3, 7, 11), dpsgd::poisson_batch(500, 0.3, 8, 11));
  EXPECT_EQ(dpsgd::poisson_batch(37, 1.0, 1, 0).size(), 37u);
  int empty = 0;
  for (int64_t t = 0; t < 200; ++t) empty += dpsgd::poisson_batch(10, 0.05, 3, t).empty() ? 1 : 0;
  EXPECT_GT(empty, 80);  // P(empty) = 0.95^10 = 0.60
  test::expect_error_mentioning([] { dpsgd::poisson_batch(10, 0.0, 1, 0); }, "q in (0, 1]");
  test::expect_error_mentioning([] { dpsgd::poisson_batch(10, 1.5, 1, 0); }, "q in (0, 1]");
}

TEST(DpsgdSampling, PhysicalBatchesSplitInOrder) {
  std::vector<int64_t> ids = {1, 4, 5, 8, 9, 12, 20};
  auto parts = dpsgd::physical_batches(ids, 3);
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(parts[0], (std::vector<int64_t>{1, 4, 5}));
  EXPECT_EQ(parts[2], (std::vector<int64_t>{20}));
  EXPECT_TRUE(dpsgd::physical_batches({}, 4).empty());
  test::expect_error_mentioning([&] { dpsgd::physical_batches(ids, 0); }, "must be >= 1");
}
