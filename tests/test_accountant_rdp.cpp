// Tests of the RDP accountant (paradigms/dpsgd/rdp_accountant.h): the golden vectors of the reference note
// (lira-dpsgd.md §3.6, from Opacus), and independent high-precision checks of the RDP moment A_alpha:
// long-double direct binomial sums (integer orders) and long-double Gauss-Legendre quadrature of its defining
// integral (any order, down to tiny q), the q = 0 / q = 1 closed forms, continuity across integer orders,
// monotonicity, composition and the (epsilon, delta) conversion with its grid-edge warning.
#include <gtest/gtest.h>

#include <boost/math/quadrature/gauss.hpp>

#include <cmath>
#include <string>
#include <vector>

#include "paradigms/dpsgd/rdp_accountant.h"
#include "paradigms/dpsgd/special_math.h"

namespace sp::dpsgd {
namespace {

// --- independent references ---------------------------------------------------------------------------

// A_alpha for integer alpha as the plain finite sum sum_i C(alpha,i) q^i (1-q)^(alpha-i) e^{(i^2-i)/(2 s^2)}
// in long double (no log space). Returns log A.
long double log_a_direct_sum(long double q, long double s, long alpha) {
  long double a = 0, c = 1;  // c = C(alpha, i)
  for (long i = 0; i <= alpha; ++i) {
    a += c * std::pow(q, (long double)i) * std::pow(1 - q, (long double)(alpha - i)) *
         std::exp((long double)(i * i - i) / (2 * s * s));
    c = c * (long double)(alpha - i) / (long double)(i + 1);
  }
  return std::log(a);
}

// (1 + x)^alpha - 1 - alpha x >= 0, by its power series where x is small (no cancellation), else directly.
long double excess(long double x, long double alpha) {
  if (std::fabs(x) < 0.05L) {
    long double sum = 0, c = alpha * (alpha - 1) / 2, p = x * x;
    for (int k = 2; k < 40; ++k) {
      sum += c * p;
      c *= (alpha - k) / (k + 1);
      p *= x;
    }
    return sum;
  }
  return std::expm1(alpha * std::log1p(x)) - alpha * x;
}

// log A_alpha from its definition A = E_{z ~ N(0,s^2)}[(1 + q (e^{(2z-1)/(2 s^2)} - 1))^alpha]. Since the
// mean of q (e^v - 1) is exactly zero, A - 1 = E[excess(x)] with a non-negative integrand: composite
// Gauss-Legendre (Boost.Math, 20 points) in long double over [-40 s, alpha + 40 s] (the integrand peaks near z = alpha for large A).
long double log_a_quadrature(double q, double s, double alpha) {
  const long double lo = -40.0L * s, hi = (long double)alpha + 40.0L * s;
  // Panels well inside the integrand's analyticity strip (half-width pi s^2) and its Gaussian scale s.
  const long double h_max = std::min<long double>(s, (long double)s * s) / 3;
  const long panels = long(std::ceil((hi - lo) / h_max));
  const long double h = (hi - lo) / panels;
  const long double norm = 1.0L / (s * std::sqrt(2.0L * std::acos(-1.0L)));
  auto f = [&](long double z) {
    const long double x = q * std::expm1((2 * z - 1) / (2.0L * s * s));
    return norm * std::exp(-z * z / (2.0L * s * s)) * excess(x, alpha);
  };
  long double total = 0;
  for (long p = 0; p < panels; ++p)
    total += boost::math::quadrature::gauss<long double, 20>::integrate(f, lo + p * h, lo + (p + 1) * h);
  return std::log1p(total);
}

double rel_err(double got, long double want) { return double(std::fabs((got - want) / want)); }

// --- golden vectors ------------------------------------------------------------------------------------

struct Golden {
  double q;
  int64_t steps;
  double sigma;
  double epsilon;  // printed to 5 significant digits
  double order;
};
// lira-dpsgd.md §3.6, delta = 1e-5.
const Golden kGolden[] = {
    {0.0042667, 14062, 1.1, 2.5966, 8.1}, {0.00512, 19531, 1.0, 4.5239, 5.4}, {0.08192, 875, 10.0, 0.9877, 18},
    {0.08192, 2500, 3.0, 7.0985, 4.1},    {0.01024, 9765, 1.0, 6.8076, 4.1},
};

TEST(RdpAccountant, GoldenVectorsFromReference) {
  const auto orders = default_rdp_orders();
  for (const Golden& g : kGolden) {
    const RdpEpsilon r = rdp_epsilon({{g.q, g.sigma, g.steps}}, 1e-5);
    // Half a unit in the last printed digit (plus a hair for the rounding of the printed value itself).
    EXPECT_NEAR(r.epsilon, g.epsilon, 0.55e-4) << "q=" << g.q << " sigma=" << g.sigma;
    EXPECT_DOUBLE_EQ(r.best_order, g.order) << "q=" << g.q << " sigma=" << g.sigma;
    EXPECT_EQ(orders[r.best_index], r.best_order);
    EXPECT_FALSE(r.at_grid_edge);
    EXPECT_TRUE(r.warning.empty());
  }
}

TEST(RdpAccountant, DefaultOrderGridIsOpacus) {
  const auto orders = default_rdp_orders();
  ASSERT_EQ(orders.size(), 99u + 52u);
  EXPECT_EQ(orders.front(), 1.1);
  EXPECT_EQ(orders[98], 1.0 + 99 / 10.0);
  EXPECT_EQ(orders[9], 2.0);  // 1 + 10/10: integer orders inside the first range go through the exact sum
  EXPECT_EQ(orders[99], 12.0);
  EXPECT_EQ(orders.back(), 63.0);
  for (size_t k = 1; k < orders.size(); ++k) EXPECT_LT(orders[k - 1], orders[k]);
  for (double a : orders) EXPECT_NE(a, 11.0);
}

// --- independent high-precision checks -------------------------------------------------------------------

TEST(RdpAccountant, IntegerOrdersMatchLongDoubleDirectSum) {
  for (double q : {0.001, 0.01, 0.1, 0.5, 0.9})
    for (double s : {0.7, 1.0, 2.0, 5.0})
      for (long alpha : {2L, 3L, 5L, 8L, 12L, 20L, 32L, 63L}) {
        const long double ref = log_a_direct_sum(q, s, alpha) / (alpha - 1);
        const double got = rdp_poisson_gaussian(q, s, double(alpha));
        EXPECT_LT(rel_err(got, ref), 1e-10) << "q=" << q << " sigma=" << s << " alpha=" << alpha;
      }
}

TEST(RdpAccountant, FractionalOrdersMatchQuadrature) {
  for (double q : {0.003, 0.02, 0.08, 0.3, 0.6})
    for (double s : {0.8, 1.5, 4.0})
      for (double alpha : {1.1, 1.5, 2.7, 4.1, 7.3, 10.9}) {
        const long double ref = log_a_quadrature(q, s, alpha) / (alpha - 1);
        const double got = rdp_poisson_gaussian(q, s, alpha);
        EXPECT_LT(rel_err(got, ref), 1e-9) << "q=" << q << " sigma=" << s << " alpha=" << alpha;
      }
  // Large noise makes A - 1 tiny even at large q.
  for (double q : {0.2, 0.35})
    for (double alpha : {1.5, 7.3}) {
      const long double ref = log_a_quadrature(q, 50.0, alpha) / (alpha - 1);
      EXPECT_LT(rel_err(rdp_poisson_gaussian(q, 50.0, alpha), ref), 1e-9) << "q=" << q << " alpha=" << alpha;
    }
}

TEST(RdpAccountant, TinySampleRatesKeepRelativePrecision) {
  // At q = 1e-6, A = 1 + O(q^2): summing A itself would leave ~1e-4 relative error in log A. Both orders
  // kinds go through A - 1 and must match the quadrature (and the direct sum) to 1e-9.
  for (double q : {1e-4, 1e-6, 1e-8})
    for (double s : {0.8, 3.0})
      for (double alpha : {1.5, 2.0, 3.3, 5.0, 9.9, 20.0}) {
        const long double ref = log_a_quadrature(q, s, alpha) / (alpha - 1);
        const double got = rdp_poisson_gaussian(q, s, alpha);
        EXPECT_LT(rel_err(got, ref), 1e-9) << "q=" << q << " sigma=" << s << " alpha=" << alpha;
      }
}

TEST(RdpAccountant, FractionalSeriesAtIntegerOrdersEqualsBinomialSum) {
  // The two erfc-weighted series are exact at integer orders too (the coefficients vanish past alpha): both
  // arrangements must agree with the finite binomial sum, a structurally different formula.
  for (double q : {0.01, 0.05, 0.2})
    for (double s : {0.9, 2.0})
      for (long alpha : {2L, 3L, 6L, 10L}) {
        const double exact = detail::log_a_integer(q, s, alpha);
        EXPECT_LT(rel_err(detail::log_a_series_direct(q, s, double(alpha)), exact), 1e-10)
            << "q=" << q << " sigma=" << s << " alpha=" << alpha;
        EXPECT_LT(rel_err(detail::log_a_series_small_q(q, s, double(alpha)), exact), 1e-10)
            << "q=" << q << " sigma=" << s << " alpha=" << alpha;
      }
}

TEST(RdpAccountant, BothFractionalArrangementsAgree) {
  for (double q : {0.01, 0.03, 0.05, 0.1})
    for (double s : {0.7, 1.0, 3.0})
      for (double alpha : {1.3, 2.5, 6.6, 10.9}) {
        const double a = detail::log_a_series_direct(q, s, alpha), b = detail::log_a_series_small_q(q, s, alpha);
        EXPECT_LT(rel_err(a, b), 1e-8) << "q=" << q << " sigma=" << s << " alpha=" << alpha;
      }
}

TEST(RdpAccountant, ContinuousAcrossIntegerOrders) {
  // Integer orders use the binomial sum, their neighbours the series: the curve must not jump.
  for (double q : {0.005, 0.08, 0.4})
    for (double s : {0.8, 2.0})
      for (int k : {2, 3, 5, 10}) {
        const double at = rdp_poisson_gaussian(q, s, k);
        const double below = rdp_poisson_gaussian(q, s, k - 1e-7), above = rdp_poisson_gaussian(q, s, k + 1e-7);
        EXPECT_LT(rel_err(below, at), 1e-5) << "q=" << q << " sigma=" << s << " alpha=" << k;
        EXPECT_LT(rel_err(above, at), 1e-5) << "q=" << q << " sigma=" << s << " alpha=" << k;
        EXPECT_LE(below, above) << "RDP is non-decreasing in alpha";
      }
}

TEST(RdpAccountant, EdgeCasesAndClosedForms) {
  for (double alpha : {1.5, 2.0, 7.7, 63.0}) {
    EXPECT_EQ(rdp_poisson_gaussian(0.0, 1.0, alpha), 0.0);
    EXPECT_TRUE(std::isinf(rdp_poisson_gaussian(0.1, 0.0, alpha)));
    for (double s : {0.5, 1.0, 3.0}) EXPECT_DOUBLE_EQ(rdp_poisson_gaussian(1.0, s, alpha), alpha / (2 * s * s));
  }
  // q -> 1 approaches the Gaussian closed form continuously.
  EXPECT_LT(rel_err(rdp_poisson_gaussian(1.0 - 1e-9, 1.5, 4.0), 4.0 / (2 * 2.25)), 1e-6);
  EXPECT_LT(rel_err(rdp_poisson_gaussian(1.0 - 1e-9, 1.5, 4.5), 4.5 / (2 * 2.25)), 1e-6);
  // Large orders and small noise stay finite (log space throughout).
  EXPECT_TRUE(std::isfinite(rdp_poisson_gaussian(0.01, 0.3, 1000.0)));
  EXPECT_TRUE(std::isfinite(rdp_poisson_gaussian(0.01, 0.3, 200.5)));
  EXPECT_TRUE(std::isfinite(rdp_poisson_gaussian(1e-9, 50.0, 63.0)));
  EXPECT_GT(rdp_poisson_gaussian(1e-9, 50.0, 63.0), 0.0);
  // The (2 - 1) order-2 closed form for q in (0, 1): A_2 = 1 + q^2 (e^{1/s^2} - 1).
  const double q = 0.03, s = 1.2;
  EXPECT_NEAR(rdp_poisson_gaussian(q, s, 2.0), std::log1p(q * q * std::expm1(1 / (s * s))), 1e-16);
}

TEST(RdpAccountant, MonotoneInNoiseAndSteps) {
  double prev = kInf;
  for (double s : {0.5, 0.7, 1.0, 1.5, 2.5, 5.0, 10.0, 100.0}) {
    const double e = rdp_epsilon({{0.01, s, 1000}}, 1e-5).epsilon;
    EXPECT_LT(e, prev) << "sigma=" << s;
    prev = e;
  }
  prev = 0;
  for (int64_t t : {1, 10, 100, 1000, 10000, 100000}) {
    const double e = rdp_epsilon({{0.01, 1.0, t}}, 1e-5).epsilon;
    EXPECT_GT(e, prev) << "steps=" << t;
    prev = e;
  }
}

TEST(RdpAccountant, CompositionAddsCurves) {
  const auto orders = default_rdp_orders();
  const SubsampledGaussian a{0.01, 1.0, 300}, b{0.05, 2.0, 700};
  const auto ca = rdp_curve({a}, orders), cb = rdp_curve({b}, orders), cab = rdp_curve({a, b}, orders);
  for (size_t k = 0; k < orders.size(); ++k) {
    EXPECT_DOUBLE_EQ(cab[k], ca[k] + cb[k]);
    EXPECT_NEAR(ca[k], 300 * rdp_poisson_gaussian(0.01, 1.0, orders[k]), 1e-15 * std::fabs(ca[k]));
  }
  // Splitting a run into groups of identical steps changes nothing.
  EXPECT_NEAR(rdp_epsilon({{0.01, 1.0, 400}, {0.01, 1.0, 600}}, 1e-5).epsilon,
              rdp_epsilon({{0.01, 1.0, 1000}}, 1e-5).epsilon, 1e-12);
  const RdpEpsilon mixed = rdp_epsilon({a, b}, 1e-6);
  EXPECT_DOUBLE_EQ(mixed.epsilon, rdp_to_epsilon(orders, cab, 1e-6).epsilon);
}

TEST(RdpAccountant, ConversionFormulaAndGridEdges) {
  // The improved conversion evaluated by hand at each order of a small grid.
  const std::vector<double> orders{1.5, 2.0, 4.0, 8.0, 16.0};
  const std::vector<double> rdp{0.2, 0.3, 0.6, 1.2, 2.4};
  const double delta = 1e-5;
  double best = kInf, best_order = 0;
  for (size_t k = 0; k < orders.size(); ++k) {
    const double a = orders[k];
    const double e = rdp[k] + std::log((a - 1) / a) - (std::log(delta) + std::log(a)) / (a - 1);
    if (e < best) best = e, best_order = a;
  }
  const RdpEpsilon r = rdp_to_epsilon(orders, rdp, delta);
  EXPECT_NEAR(r.epsilon, best, 1e-14);
  EXPECT_EQ(r.best_order, best_order);

  // Tiny RDP: the minimum runs off the large end of the grid -> warning.
  const auto grid = default_rdp_orders();
  const RdpEpsilon hi = rdp_to_epsilon(grid, std::vector<double>(grid.size(), 0.0), delta);
  EXPECT_TRUE(hi.at_grid_edge);
  EXPECT_EQ(hi.best_order, 63.0);
  EXPECT_NE(hi.warning.find("largest"), std::string::npos);
  // Huge RDP growth with the order: the minimum sits at the smallest order.
  std::vector<double> steep(grid.size());
  for (size_t k = 0; k < grid.size(); ++k) steep[k] = 1e3 * grid[k];
  const RdpEpsilon lo = rdp_to_epsilon(grid, steep, delta);
  EXPECT_TRUE(lo.at_grid_edge);
  EXPECT_EQ(lo.best_order, 1.1);
  EXPECT_NE(lo.warning.find("smallest"), std::string::npos);
  // Large sigma in a real run hits the upper edge too.
  EXPECT_TRUE(rdp_epsilon({{0.001, 20.0, 100}}, 1e-5).at_grid_edge);
  // Non-finite orders are skipped; all non-finite gives infinity.
  EXPECT_TRUE(std::isinf(rdp_to_epsilon({2.0, 3.0}, {kInf, kInf}, delta).epsilon));
  EXPECT_EQ(rdp_to_epsilon({2.0, 3.0}, {kInf, 0.5}, delta).best_order, 3.0);
  // A bound below zero is reported as 0 (delta close to 1).
  EXPECT_EQ(rdp_to_epsilon({2.0, 3.0}, {0.0, 0.0}, 0.99).epsilon, 0.0);
}

TEST(RdpAccountant, BadInputThrows) {
  EXPECT_THROW(rdp_epsilon({{0.0, 1.0, 10}}, 1e-5), sp::Error);
  EXPECT_THROW(rdp_epsilon({{1.5, 1.0, 10}}, 1e-5), sp::Error);
  EXPECT_THROW(rdp_epsilon({{0.1, 0.0, 10}}, 1e-5), sp::Error);
  EXPECT_THROW(rdp_epsilon({{0.1, -1.0, 10}}, 1e-5), sp::Error);
  EXPECT_THROW(rdp_epsilon({{0.1, std::nan(""), 10}}, 1e-5), sp::Error);
  EXPECT_THROW(rdp_epsilon({{0.1, 1.0, 0}}, 1e-5), sp::Error);
  EXPECT_THROW(rdp_epsilon({{0.1, 1.0, 10}}, 0.0), sp::Error);
  EXPECT_THROW(rdp_epsilon({{0.1, 1.0, 10}}, 1.0), sp::Error);
  EXPECT_THROW(rdp_epsilon({}, 1e-5), sp::Error);
  EXPECT_THROW(rdp_poisson_gaussian(0.1, 1.0, 1.0), sp::Error);
  EXPECT_THROW(rdp_to_epsilon({2.0}, {0.1, 0.2}, 1e-5), sp::Error);
  EXPECT_THROW(rdp_to_epsilon({0.5}, {0.1}, 1e-5), sp::Error);
  try {
    rdp_epsilon({{0.1, 1.0, 10}}, 2.0);
    FAIL() << "expected sp::Error";
  } catch (const sp::Error& e) {
    EXPECT_NE(std::string(e.what()).find("delta"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace sp::dpsgd
