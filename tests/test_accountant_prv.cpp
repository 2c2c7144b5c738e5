// Tests of the PRV accountant (paradigms/dpsgd/prv_accountant.h, prv_distribution.h): the golden PRV bands of
// the reference note (lira-dpsgd.md §3.6, Opacus's PRVAccountant at its defaults), exact agreement with the
// analytic composition of Gaussian mechanisms (q = 1), the privacy-loss distribution against its closed form,
// Monte Carlo and the RDP accountant, composition invariants, and bad input.
#include <gtest/gtest.h>

#include <boost/math/quadrature/gauss.hpp>
#include <cmath>
#include <random>
#include <string>

#include "paradigms/dpsgd/prv_accountant.h"
#include "paradigms/dpsgd/prv_distribution.h"
#include "paradigms/dpsgd/rdp_accountant.h"

namespace sp::dpsgd {
namespace {

struct GoldenPrv {
  double q;
  int64_t steps;
  double sigma;
  double lower, estimate, upper;  // printed to 4 decimals
};
const GoldenPrv kGolden[] = {
    {0.0042667, 14062, 1.1, 2.3715, 2.3816, 2.3917}, {0.00512, 19531, 1.0, 4.1547, 4.1650, 4.1752},
    {0.08192, 875, 10.0, 0.8927, 0.9028, 0.9128},    {0.08192, 2500, 3.0, 6.5686, 6.5789, 6.5892},
    {0.01024, 9765, 1.0, 6.2655, 6.2758, 6.2862},
};

void check_golden(const GoldenPrv& g) {
  const PrvEpsilon r = prv_epsilon({{g.q, g.sigma, g.steps}}, 1e-5);
  // Our grid is at least as fine as the reference's (refined to a power-of-two length), so the estimate may
  // move by a fraction of eps_error; it must stay inside the reference band and near its estimate.
  EXPECT_GE(r.estimate, g.lower);
  EXPECT_LE(r.estimate, g.upper);
  EXPECT_NEAR(r.estimate, g.estimate, 1e-3);
  EXPECT_NEAR(r.upper, g.upper, 1e-3);
  EXPECT_NEAR(r.lower, g.lower, 1e-3);
  EXPECT_LE(r.lower, r.estimate);
  EXPECT_LE(r.estimate, r.upper);
  // PRV is the tighter accountant.
  EXPECT_LT(r.upper, rdp_epsilon({{g.q, g.sigma, g.steps}}, 1e-5).epsilon);
}
TEST(PrvAccountant, GoldenMnistSigma11) { check_golden(kGolden[0]); }
TEST(PrvAccountant, GoldenCifarB256) { check_golden(kGolden[1]); }
TEST(PrvAccountant, GoldenJaxPrivacyEps1) { check_golden(kGolden[2]); }
TEST(PrvAccountant, GoldenB4096Sigma3) { check_golden(kGolden[3]); }
TEST(PrvAccountant, GoldenLiraHalfSplit) { check_golden(kGolden[4]); }

// delta(eps) of mu-GDP, i.e. of T Gaussian mechanisms with noise sigma composed: mu = sqrt(T)/sigma.
long double gaussian_delta(long double eps, long double mu) {
  auto phi = [](long double x) { return 0.5L * std::erfc(-x / std::sqrt(2.0L)); };
  return phi(-eps / mu + mu / 2) - std::exp(eps) * phi(-eps / mu - mu / 2);
}
double gaussian_epsilon(double delta, double mu) {
  long double lo = 0, hi = 100;
  for (int it = 0; it < 200; ++it) {
    const long double mid = (lo + hi) / 2;
    (gaussian_delta(mid, mu) > delta ? lo : hi) = mid;
  }
  return double(hi);
}

TEST(PrvAccountant, FullBatchIsExactGaussianComposition) {
  // With q = 1 the privacy loss is exactly N(1/(2 s^2), 1/s^2) and T steps compose to mu-GDP in closed form:
  // the accountant's band must contain the exact epsilon and its estimate must be much closer than eps_error.
  for (const auto& [sigma, steps] : {std::pair{5.0, int64_t(100)}, {2.0, int64_t(10)}}) {
    for (double delta : {1e-5, 1e-3}) {
      const double exact = gaussian_epsilon(delta, std::sqrt(double(steps)) / sigma);
      const PrvEpsilon r = prv_epsilon({{1.0, sigma, steps}}, delta);
      EXPECT_LE(r.lower, exact) << "sigma=" << sigma << " T=" << steps << " delta=" << delta;
      EXPECT_GE(r.upper, exact) << "sigma=" << sigma << " T=" << steps << " delta=" << delta;
      EXPECT_NEAR(r.estimate, exact, 2e-3) << "sigma=" << sigma << " T=" << steps << " delta=" << delta;
    }
  }
}

TEST(PrvDistribution, FullBatchIsGaussian) {
  const double s = 1.7;
  const PoissonGaussianPrv prv(1.0, s);
  const double mean = 1 / (2 * s * s), sd = 1 / s;
  for (double t = -3.0; t <= 3.0; t += 0.25) {
    EXPECT_NEAR(prv.cdf(t), 0.5 * std::erfc(-(t - mean) / sd / std::sqrt(2.0)), 1e-14) << "t=" << t;
    EXPECT_NEAR(prv.loss_at(prv.x_at_loss(t)), t, 1e-12);
  }
  EXPECT_NEAR(prv.partial_mean(-1e3, 1e3), mean, 1e-13);
}

TEST(PrvDistribution, MatchesMonteCarloAndRdpLimit) {
  const double q = 0.2, s = 0.9;
  const PoissonGaussianPrv prv(q, s);
  // Empirical cdf of Y = loss(X), X ~ (1-q) N(0, s^2) + q N(1, s^2).
  std::mt19937_64 gen(3);
  std::normal_distribution<double> noise(0.0, s);
  std::bernoulli_distribution in_batch(q);
  const int n = 40000;
  std::vector<double> ys(n);
  for (double& y : ys) y = prv.loss_at(noise(gen) + (in_batch(gen) ? 1.0 : 0.0));
  for (double t : {-0.15, -0.05, 0.0, 0.1, 0.4, 1.0}) {
    const double frac = double(std::count_if(ys.begin(), ys.end(), [t](double y) { return y <= t; })) / n;
    EXPECT_NEAR(prv.cdf(t), frac, 0.01) << "t=" << t;  // ~4.5 standard errors
  }
  EXPECT_EQ(prv.cdf(std::log1p(-q) - 1e-9), 0.0);  // no mass below log(1 - q)
  // E[Y] is the KL divergence, the alpha -> 1 limit of the RDP curve (which it approaches linearly in alpha-1).
  const double kl = prv.partial_mean(-50, 50);
  const double r1 = rdp_poisson_gaussian(q, s, 1.0 + 1e-4), r2 = rdp_poisson_gaussian(q, s, 1.0 + 2e-4);
  EXPECT_NEAR(kl, 2 * r1 - r2, 1e-6 * kl);
  // Interval masses telescope to cdf differences, also far in the right tail.
  const std::vector<double> edges{-1.0, -0.1, 0.0, 0.3, 2.0, 10.0, 12.0};
  const auto m = prv.interval_masses(edges);
  for (size_t k = 0; k + 1 < edges.size(); ++k) {
    if (edges[k + 1] < 5) {
      EXPECT_NEAR(m[k], prv.cdf(edges[k + 1]) - prv.cdf(edges[k]), 1e-15);
    }
    EXPECT_GE(m[k], 0.0);
  }
  // P(10 < Y <= 12) ~ 1e-24: a difference of two upper tails, resolved to full relative precision.
  auto upper_tail = [&](double t, double mean) {
    const long double x = (long double)s * s * std::log((std::exp((long double)t) - 1 + q) / q) + 0.5L;
    return 0.5L * std::erfc((x - mean) / (s * std::sqrt(2.0L)));
  };
  const long double tail = (1 - q) * (upper_tail(10, 0) - upper_tail(12, 0)) + q * (upper_tail(10, 1) - upper_tail(12, 1));
  EXPECT_NEAR(m[5] / double(tail), 1.0, 1e-12);
  EXPECT_LT(m[5], 1e-20);
}

// A small sigma: the two Gaussian windows are integrated apart (the empty space between them is skipped), with
// the same result as one composite rule over the whole range; a sigma so small that the quadrature would take
// minutes is refused before it starts, naming the way out.
TEST(PrvDistribution, SmallSigmaWindowsAndPanelBudget) {
  const double q = 0.2, s = 0.01;
  const PoissonGaussianPrv prv(q, s);
  long double whole = 0;
  const int panels = 40000;
  const double lo = -0.45, hi = 1.45, h = (hi - lo) / panels;
  for (int p = 0; p < panels; ++p)
    whole += boost::math::quadrature::gauss<double, 15>::integrate(
        [&](double x) {
          const double a = x / s, b = (x - 1) / s;
          const double density = ((1 - q) * std::exp(-0.5 * a * a) + q * std::exp(-0.5 * b * b)) / (s * std::sqrt(2 * M_PI));
          return prv.loss_at(x) * density;
        },
        lo + p * h, lo + (p + 1) * h);
  EXPECT_NEAR(prv.partial_mean(-1e4, 1e4), double(whole), 1e-12 * std::fabs(double(whole)));
  EXPECT_NEAR(prv.partial_mean(-1e4, 0.0) + prv.partial_mean(0.0, 1e4), double(whole), 1e-12 * std::fabs(double(whole)));
  try {
    PoissonGaussianPrv(0.01, 1e-5).partial_mean(-1e300, 1e300);
    ADD_FAILURE() << "sigma 1e-5 was integrated";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("use the RDP accountant"), std::string::npos) << e.what();
  }
}

TEST(PrvAccountant, ComposedDistributionInvariants) {
  const SubsampledGaussian g{0.05, 1.2, 300};
  const PrvEpsilon r = prv_epsilon({g}, 1e-5);
  const DiscretePld pld = compose_prv({g}, r.domain_half_width, 0.01 / std::sqrt(300 * std::log(12 / 1e-8) / 2));
  EXPECT_EQ(pld.pmf.size() & (pld.pmf.size() - 1), 0u);
  long double mass = 0, mean = 0;
  for (size_t k = 0; k < pld.pmf.size(); ++k) {
    mass += pld.pmf[k];
    mean += pld.pmf[k] * (long double)(pld.t_min + double(k) * pld.dt);
  }
  EXPECT_NEAR(double(mass), 1.0, 1e-12);
  // The mean correction makes the composed mean exactly T E[Y] (up to the truncation at +-L, ~1e-10 here).
  const PoissonGaussianPrv prv(g.sample_rate, g.noise_multiplier);
  EXPECT_NEAR(double(mean), 300 * prv.partial_mean(-50, 50), 1e-9);
  EXPECT_NEAR(pld_epsilon_for_delta(pld, 1e-5), r.estimate, 1e-12);
  // delta(eps) read back at the estimate reproduces delta.
  double delta_back = 0;
  for (size_t k = 0; k < pld.pmf.size(); ++k) {
    const double t = pld.t_min + double(k) * pld.dt;
    if (t > r.estimate) delta_back += pld.pmf[k] * -std::expm1(r.estimate - t);
  }
  EXPECT_NEAR(delta_back, 1e-5, 1e-11);
}

TEST(PrvAccountant, HeterogeneousGroupsAndMonotonicity) {
  const PrvEpsilon one = prv_epsilon({{0.02, 1.0, 400}}, 1e-5);
  const PrvEpsilon split = prv_epsilon({{0.02, 1.0, 150}, {0.02, 1.0, 250}}, 1e-5);
  EXPECT_NEAR(split.estimate, one.estimate, 1e-9);
  EXPECT_NEAR(split.upper, one.upper, 1e-9);
  // Mixed groups: between the two pure runs, and below the RDP bound of the mix.
  const PrvEpsilon mixed = prv_epsilon({{0.02, 1.0, 200}, {0.02, 2.0, 200}}, 1e-5);
  const PrvEpsilon low = prv_epsilon({{0.02, 2.0, 400}}, 1e-5);
  EXPECT_LT(mixed.estimate, one.estimate);
  EXPECT_GT(mixed.estimate, low.estimate);
  EXPECT_LT(mixed.upper, rdp_epsilon({{0.02, 1.0, 200}, {0.02, 2.0, 200}}, 1e-5).epsilon);
  double prev = 0;
  for (int64_t t : {10, 100, 400}) {
    const double e = prv_epsilon({{0.02, 1.0, t}}, 1e-5).estimate;
    EXPECT_GT(e, prev) << "steps=" << t;
    prev = e;
  }
  prev = 1e9;
  for (double s : {0.8, 1.5, 3.0}) {
    const double e = prv_epsilon({{0.02, s, 200}}, 1e-5).estimate;
    EXPECT_LT(e, prev) << "sigma=" << s;
    prev = e;
  }
}

TEST(PrvAccountant, ErrorParameters) {
  PrvOptions tight;
  tight.eps_error = 0.002;
  const PrvEpsilon a = prv_epsilon({{0.05, 1.0, 200}}, 1e-5);
  const PrvEpsilon b = prv_epsilon({{0.05, 1.0, 200}}, 1e-5, tight);
  EXPECT_GT(b.points, a.points);
  EXPECT_NEAR(a.estimate, b.estimate, 0.01);
  EXPECT_LT(b.upper - b.lower, a.upper - a.lower);
  EXPECT_NEAR(a.upper - a.estimate, 0.01, 0.005);  // eps_error plus the delta_error shift
}

TEST(PrvAccountant, BadInputThrows) {
  EXPECT_THROW(prv_epsilon({{0.0, 1.0, 10}}, 1e-5), sp::Error);
  EXPECT_THROW(prv_epsilon({{1.01, 1.0, 10}}, 1e-5), sp::Error);
  EXPECT_THROW(prv_epsilon({{0.1, 0.0, 10}}, 1e-5), sp::Error);
  EXPECT_THROW(prv_epsilon({{0.1, 1.0, 0}}, 1e-5), sp::Error);
  EXPECT_THROW(prv_epsilon({{0.1, 1.0, 10}}, 0.0), sp::Error);
  EXPECT_THROW(prv_epsilon({{0.1, 1.0, 10}}, 1.0), sp::Error);
  PrvOptions bad;
  bad.eps_error = 0;
  EXPECT_THROW(prv_epsilon({{0.1, 1.0, 10}}, 1e-5, bad), sp::Error);
  bad = {};
  bad.delta_error = 2e-5;
  EXPECT_THROW(prv_epsilon({{0.1, 1.0, 10}}, 1e-5, bad), sp::Error);
  bad = {};
  bad.max_points = 1024;
  try {
    prv_epsilon({{0.1, 1.0, 10}}, 1e-5, bad);
    FAIL() << "expected sp::Error";
  } catch (const sp::Error& e) {
    EXPECT_NE(std::string(e.what()).find("RDP accountant"), std::string::npos) << e.what();
  }
  // delta so small that round-off in the FFT would dominate.
  EXPECT_THROW(prv_epsilon({{0.1, 1.0, 1000}}, 1e-13), sp::Error);
}

}  // namespace
}  // namespace sp::dpsgd
