// Welford and MaxSum (kernels/stat_math.h): streaming statistics equal two-pass results, merges of split
// sets equal the whole, log-sum-exp is exact at +-1000 and ignores -inf entries.
#include <random>

#include "kernels/stat_math.h"
#include "tests/test_util.h"

using namespace sp;

namespace {
std::vector<double> sample(int n, double shift, uint64_t seed) {
  std::mt19937_64 g(seed);
  std::normal_distribution<double> d(shift, 2.0);
  std::vector<double> v(static_cast<size_t>(n));
  for (auto& x : v) x = d(g);
  return v;
}
}  // namespace

TEST(StatMath, WelfordMatchesTwoPass) {
  auto v = sample(1001, 1e4, 1);  // large mean: E[x^2] - E[x]^2 would lose digits here
  double mean = 0;
  for (double x : v) mean += x;
  mean /= double(v.size());
  double ss = 0;
  for (double x : v) ss += (x - mean) * (x - mean);
  stat::Welford<double> w;
  for (double x : v) w.push(x);
  EXPECT_EQ(w.n, 1001.0);
  EXPECT_NEAR(w.mean, mean, 1e-10);
  EXPECT_NEAR(w.var_biased(), ss / 1001.0, 1e-9);
  EXPECT_NEAR(w.var_unbiased(), ss / 1000.0, 1e-9);
  // f32 keeps the variance accurate despite the offset (naive f32 E[x^2]-E[x]^2 has error ~ 1e8 * 6e-8).
  stat::Welford<float> wf;
  for (double x : v) wf.push(float(x));
  EXPECT_NEAR(wf.var_biased(), ss / 1001.0, 0.05 * ss / 1001.0);
}

TEST(StatMath, WelfordMergeOfSplitsEqualsWhole) {
  auto v = sample(100, -3.0, 2);
  stat::Welford<double> whole;
  for (double x : v) whole.push(x);
  for (int cut : {0, 1, 37, 99, 100}) {
    stat::Welford<double> a, b;
    for (int i = 0; i < cut; ++i) a.push(v[i]);
    for (int i = cut; i < 100; ++i) b.push(v[i]);
    a.merge(b);
    EXPECT_EQ(a.n, 100.0) << cut;
    EXPECT_NEAR(a.mean, whole.mean, 1e-12) << cut;
    EXPECT_NEAR(a.m2, whole.m2, 1e-10) << cut;
  }
}

TEST(StatMath, MaxSumLogSumExp) {
  stat::MaxSum<double> a;
  for (double x : {1000.0, 1000.0}) a.push(x);
  EXPECT_DOUBLE_EQ(a.lse(), 1000.0 + std::log(2.0));
  stat::MaxSum<float> f;
  for (float x : {-1000.0f, 1000.0f, 999.0f}) f.push(x);
  EXPECT_NEAR(f.lse(), 1000.0 + std::log1p(std::exp(-1.0)), 1e-3);
  // -inf entries contribute nothing, in any position.
  stat::MaxSum<double> m;
  const double ninf = -std::numeric_limits<double>::infinity();
  for (double x : {ninf, 0.0, ninf, 0.0, ninf}) m.push(x);
  EXPECT_DOUBLE_EQ(m.lse(), std::log(2.0));
  stat::MaxSum<double> empty;
  empty.push(ninf);
  EXPECT_EQ(empty.lse(), ninf);
  // Merging partial results in either order gives the same value.
  auto v = sample(50, 0.0, 3);
  stat::MaxSum<double> whole, p, q;
  for (int i = 0; i < 50; ++i) {
    whole.push(v[i]);
    (i % 3 ? p : q).push(v[i]);
  }
  stat::MaxSum<double> pq = p, qp = q;
  pq.merge(q.m, q.s);
  qp.merge(p.m, p.s);
  EXPECT_NEAR(pq.lse(), whole.lse(), 1e-12);
  EXPECT_NEAR(qp.lse(), whole.lse(), 1e-12);
}
