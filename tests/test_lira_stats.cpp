// Numerical building blocks of sp_lira: the LiRA statistic (worked examples, extreme margins, a
// long-double reference), log Phi in both tails (against a Mills-ratio continued fraction), the
// incomplete beta function and its inverse (closed forms, binomial tail sums), Clopper-Pearson intervals
// (published values, tail identities), and the epsilon lower bound (pruned search = exhaustive search,
// hand-computed cases).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

#include "attacks/beta_dist.h"
#include "attacks/epsilon_bound.h"
#include "attacks/gauss.h"
#include "attacks/lira_statistic.h"

using namespace sp;
using namespace sp::lira;

namespace {

// P(X >= k) for X ~ Bin(n, p): the pmf at k from logarithms, then the ratio recursion
// pmf(j+1) = pmf(j) (n-j)/(j+1) p/(1-p) in long double, stopping once the terms no longer matter.
long double binom_upper_tail(int64_t k, int64_t n, long double p) {
  long double term = std::exp(std::lgamma((long double)n + 1) - std::lgamma((long double)k + 1) -
                              std::lgamma((long double)(n - k) + 1) + k * std::log(p) + (n - k) * std::log1p(-p));
  long double s = 0, ratio = p / (1 - p);
  for (int64_t j = k; j <= n; ++j) {
    s += term;
    if (j > n * p && term < 1e-40L * s) break;
    term *= (long double)(n - j) / (long double)(j + 1) * ratio;
  }
  return s;
}

// log Phi(-z) for z >= 5 from the continued fraction of the Mills ratio, R(z) = 1/(z+1/(z+2/(z+...))).
long double log_ndtr_neg_cf(long double z) {
  long double t = z;
  for (int k = 400; k >= 1; --k) t = z + k / t;
  return -0.5L * z * z - 0.5L * std::log(2 * 3.14159265358979323846264338327950288L) - std::log(t);
}

double rel_err(double got, double want) { return std::abs(got - want) / std::max(1e-300, std::abs(want)); }

}  // namespace

TEST(LiraStatistic, WorkedExamples) {
  const float a[] = {10, 0, 0};
  EXPECT_NEAR(lira_statistic(a, 3, 0, Statistic::logit), 10 - std::log(2.0), 1e-14);
  const float b[] = {0, 20, 0};
  EXPECT_NEAR(lira_statistic(b, 3, 0, Statistic::logit), -(20 + std::log1p(std::exp(-20.0))), 1e-13);
  EXPECT_NEAR(lira_statistic(b, 3, 0, Statistic::logit), -20.0000000020611536, 1e-13);
  const float c[] = {3, 5, 1};
  EXPECT_EQ(lira_statistic(c, 3, 0, Statistic::hinge), -2.0);
  EXPECT_EQ(lira_statistic(c, 3, 1, Statistic::hinge), 2.0);
  const double two[] = {1.25, -0.5};  // C = 2: both forms are z_y - z_other exactly
  EXPECT_EQ(lira_statistic(two, 2, 0, Statistic::logit), 1.75);
  EXPECT_EQ(lira_statistic(two, 2, 1, Statistic::hinge), -1.75);
}

TEST(LiraStatistic, ExtremeMarginsStayExact) {
  // A naive log(p / (1 - p)) saturates once the margin passes ~37 in f64; the closed form does not.
  const float big[] = {1000, 0, 0, 0};
  EXPECT_NEAR(lira_statistic(big, 4, 0, Statistic::logit), 1000 - std::log(3.0), 1e-12);
  const float huge[] = {3e38f, -3e38f, 0};
  EXPECT_EQ(lira_statistic(huge, 3, 0, Statistic::logit), double(3e38f));
  EXPECT_EQ(lira_statistic(huge, 3, 1, Statistic::logit), double(-3e38f) - double(3e38f));
  const float nan_row[] = {1, std::numeric_limits<float>::quiet_NaN(), 0};
  EXPECT_TRUE(std::isnan(lira_statistic(nan_row, 3, 0, Statistic::logit)));
  const float inf_row[] = {std::numeric_limits<float>::infinity(), 1, 0};
  EXPECT_TRUE(std::isnan(lira_statistic(inf_row, 3, 0, Statistic::hinge)));
  EXPECT_EQ(statistic_from_name("hinge"), Statistic::hinge);
  EXPECT_THROW(statistic_from_name("loss"), Error);
}

TEST(LiraStatistic, MatchesLongDoubleReference) {
  std::mt19937_64 g(5);
  std::normal_distribution<double> nd(0, 6);
  for (int rep = 0; rep < 2000; ++rep) {
    const int C = 2 + rep % 15;
    std::vector<float> z(static_cast<size_t>(C));
    for (auto& v : z) v = float(nd(g));
    int y = int(g() % uint64_t(C));
    long double m = -1e4000L, s = 0;
    for (int j = 0; j < C; ++j)
      if (j != y) m = std::max(m, (long double)z[size_t(j)]);
    for (int j = 0; j < C; ++j)
      if (j != y) s += std::exp((long double)z[size_t(j)] - m);
    double want = double((long double)z[size_t(y)] - m - std::log(s));
    EXPECT_NEAR(lira_statistic(z.data(), C, y, Statistic::logit), want, 1e-13 * std::max(1.0, std::abs(want)));
  }
}

TEST(LiraGauss, LogNdtrBothTails) {
  EXPECT_NEAR(log_ndtr(0), -std::log(2.0), 1e-16);
  EXPECT_NEAR(log_ndtr(-1), std::log(0.15865525393145707), 1e-15);
  EXPECT_NEAR(log_ndtr(1), std::log(0.84134474606854293), 1e-15);
  EXPECT_LT(rel_err(log_ndtr(10), -7.6198530241605269e-24), 1e-9);
  EXPECT_EQ(log_ndtr(40), 0.0);
  for (double z : {5.0, 8.0, 12.0, 19.5, 19.999, 20.0, 20.001, 25.0, 37.0, 40.0, 100.0, 1e3, 1e6})
    EXPECT_LT(rel_err(log_ndtr(-z), double(log_ndtr_neg_cf(z))), 1e-13) << "z = -" << z;
  EXPECT_EQ(log_ndtr(-std::numeric_limits<double>::infinity()), -std::numeric_limits<double>::infinity());
  EXPECT_TRUE(std::isnan(log_ndtr(std::nan(""))));
  EXPECT_NEAR(log_normal_pdf(1.0, 0.0, 2.0), -0.125 - std::log(2.0) - 0.5 * std::log(2 * M_PI), 1e-15);
}

TEST(LiraBeta, IncompleteBetaClosedFormsAndSymmetry) {
  for (double x : {1e-8, 0.01, 0.3, 0.5, 0.77, 0.999}) {
    EXPECT_LT(rel_err(beta_inc(1, 7.5, x), -std::expm1(7.5 * std::log1p(-x))), 1e-13) << x;
    EXPECT_LT(rel_err(beta_inc(4.5, 1, x), std::pow(x, 4.5)), 1e-13) << x;
    EXPECT_LT(rel_err(beta_inc(2, 2, x), 3 * x * x - 2 * x * x * x), 1e-13) << x;
    EXPECT_NEAR(beta_inc(3.5, 9, x), 1 - beta_inc(9, 3.5, 1 - x), 1e-14) << x;
  }
  EXPECT_NEAR(beta_inc(40, 40, 0.5), 0.5, 5e-14);
  EXPECT_EQ(beta_inc(2, 3, 0), 0.0);
  EXPECT_EQ(beta_inc(2, 3, 1), 1.0);
  EXPECT_THROW(beta_inc(0, 3, 0.5), Error);
  EXPECT_THROW(beta_inc(2, 3, 1.5), Error);
}

TEST(LiraBeta, LogBinomialPmf) {
  // Against the direct long-double product, on both sides of q = 1/2 (the mirrored branch) and at the ends.
  auto direct = [](int64_t r, int64_t k, long double q) {
    long double lc = std::lgamma((long double)r + 1) - std::lgamma((long double)k + 1) - std::lgamma((long double)(r - k) + 1);
    return lc + k * std::log(q) + (r - k) * std::log1p(-q);
  };
  for (double eps : {0.0, 0.3, 2.0, 8.0})
    for (auto [r, k] : {std::pair<int64_t, int64_t>{1, 0}, {1, 1}, {10, 3}, {50, 49}, {200, 100}, {1000, 20}}) {
      const double log_q = -std::log1p(std::exp(-eps)), log_1mq = log_q - eps;
      const long double q = 1.0L / (1.0L + std::exp(-(long double)eps));
      const double want = double(direct(r, k, q));
      EXPECT_NEAR(log_binomial_pmf(r, k, log_q, log_1mq), want, 1e-12 * std::max(1.0, std::fabs(want)))
          << "r=" << r << " k=" << k << " eps=" << eps;
      EXPECT_NEAR(log_binomial_pmf(r, k, log_1mq, log_q), double(direct(r, k, 1 - q)),
                  1e-12 * std::max(1.0, std::fabs(want))) << "mirror r=" << r << " k=" << k << " eps=" << eps;
    }
  // The pmf sums to 1, also where terms underflow double (r = 5000, q = 0.9: the far tail is below 1e-308).
  const double eps = std::log(9.0), log_q = -std::log1p(std::exp(-eps)), log_1mq = log_q - eps;
  long double total = 0;
  for (int64_t k = 0; k <= 5000; ++k) total += std::exp((long double)log_binomial_pmf(5000, k, log_q, log_1mq));
  EXPECT_NEAR(double(total), 1.0, 1e-12);
  EXPECT_NEAR(log_binomial_pmf(5000, 0, log_q, log_1mq), 5000 * log_1mq, 1e-9 * 5000 * -log_1mq);
  EXPECT_EQ(log_binomial_pmf(0, 0, log_q, log_1mq), 0.0);
  EXPECT_THROW(log_binomial_pmf(3, 4, log_q, log_1mq), Error);
  EXPECT_THROW(log_binomial_pmf(3, 1, 0.1, log_1mq), Error);
}

TEST(LiraBeta, IncompleteBetaEqualsBinomialTails) {
  struct Case {
    int64_t k, n;
    double p;
  };
  for (Case c : {Case{17, 50, 0.3}, Case{1, 50, 0.001}, Case{49, 50, 0.97}, Case{30, 2000, 0.01}, Case{3, 1000, 0.0005},
                 Case{800, 800000, 0.001}, Case{795000, 800000, 0.994}}) {
    double want = double(binom_upper_tail(c.k, c.n, c.p));
    EXPECT_LT(rel_err(beta_inc(double(c.k), double(c.n - c.k + 1), c.p), want), 1e-9)
        << "k=" << c.k << " n=" << c.n << " p=" << c.p;
  }
}

TEST(LiraBeta, InverseIsExact) {
  for (double p : {1e-12, 1e-4, 0.025, 0.5, 0.975, 1 - 1e-9}) {
    EXPECT_LT(rel_err(beta_inc_inv(1, 9, p), -std::expm1(std::log1p(-p) / 9)), 1e-12) << p;
    EXPECT_LT(rel_err(beta_inc_inv(6, 1, p), std::pow(p, 1.0 / 6)), 1e-12) << p;
    for (auto [a, b] : {std::pair{2.5, 7.0}, std::pair{800.0, 799201.0}, std::pair{1.0, 800000.0}, std::pair{30.0, 3.0}}) {
      double x = beta_inc_inv(a, b, p);
      EXPECT_LT(rel_err(beta_inc(a, b, x), p), 1e-10) << "a=" << a << " b=" << b << " p=" << p;
    }
  }
  EXPECT_EQ(beta_inc_inv(3, 4, 0), 0.0);
  EXPECT_EQ(beta_inc_inv(3, 4, 1), 1.0);
}

TEST(LiraBeta, ClopperPearson) {
  // The textbook interval for 5 of 10 at 95%.
  Interval r = clopper_pearson(5, 10);
  EXPECT_NEAR(r.lo, 0.187086, 1e-6);
  EXPECT_NEAR(r.hi, 0.812914, 1e-6);
  Interval z = clopper_pearson(0, 800000);
  EXPECT_EQ(z.lo, 0.0);
  EXPECT_LT(rel_err(z.hi, 1 - std::pow(0.025, 1.0 / 800000)), 1e-9);
  Interval f = clopper_pearson(20, 20);
  EXPECT_EQ(f.hi, 1.0);
  EXPECT_LT(rel_err(f.lo, std::pow(0.025, 1.0 / 20)), 1e-14);
  // The defining tail identities: P(X >= k | lo) = alpha/2 and P(X <= k | hi) = alpha/2.
  for (auto [k, n] : {std::pair<int64_t, int64_t>{3, 1000}, std::pair<int64_t, int64_t>{800, 800000},
                      std::pair<int64_t, int64_t>{45, 60}}) {
    Interval c = clopper_pearson(k, n);
    EXPECT_LT(rel_err(double(binom_upper_tail(k, n, c.lo)), 0.025), 1e-8) << k << "/" << n;
    EXPECT_LT(rel_err(double(1 - binom_upper_tail(k + 1, n, c.hi)), 0.025), 1e-8) << k << "/" << n;
    EXPECT_LT(c.lo, double(k) / n);
    EXPECT_GT(c.hi, double(k) / n);
  }
  Interval e = clopper_pearson(0, 0);
  EXPECT_EQ(e.lo, 0.0);
  EXPECT_EQ(e.hi, 1.0);
  EXPECT_THROW(clopper_pearson(5, 4), Error);
  EXPECT_THROW(clopper_pearson(1, 4, 0), Error);
}

TEST(LiraEpsilon, HandComputedCases) {
  // Perfect separation, 1000 members and 1000 non-members, delta 0: the threshold between the classes.
  Roc perfect;
  perfect.P = perfect.N = 1000;
  perfect.points = {{INFINITY, 0, 0}, {1.0, 1000, 0}, {0.0, 1000, 1000}};
  double want = std::log(std::pow(0.025, 1e-3) / (1 - std::pow(0.025, 1e-3)));
  EpsilonBound b = epsilon_lower_bound(perfect, 0.0);
  EXPECT_NEAR(b.epsilon, want, 1e-9);
  EXPECT_EQ(b.tp, 1000);
  EXPECT_EQ(b.fp, 0);
  EXPECT_LT(epsilon_lower_bound(perfect, 1e-2).epsilon, b.epsilon);  // delta absorbs part of the evidence
  // Ten non-members above all members, the rest below: the TNR/FNR form is the stronger one.
  Roc r;
  r.P = r.N = 1000;
  r.points = {{INFINITY, 0, 0}, {10.0, 0, 10}, {0.0, 1000, 10}, {-10.0, 1000, 1000}};
  EpsilonBound c = epsilon_lower_bound(r, 1e-5);
  EXPECT_TRUE(c.complement);
  Interval tn = clopper_pearson(990, 1000), fn = clopper_pearson(0, 1000);
  EXPECT_NEAR(c.epsilon, std::log((tn.lo - 1e-5) / fn.hi), 1e-12);
  // No members or no non-members: nothing to bound.
  Roc empty;
  empty.P = 0;
  empty.N = 5;
  empty.points = {{INFINITY, 0, 0}, {1.0, 0, 5}};
  EXPECT_EQ(epsilon_lower_bound(empty, 1e-5).epsilon, 0.0);
  EXPECT_THROW(epsilon_lower_bound(perfect, 1.5), Error);
}

TEST(LiraEpsilon, PrunedSearchEqualsExhaustive) {
  std::mt19937_64 g(11);
  for (double shift : {0.0, 0.5, 2.0, 6.0}) {
    std::normal_distribution<double> nd(0, 1);
    std::vector<double> s;
    std::vector<uint8_t> y;
    for (int i = 0; i < 1500; ++i) {
      bool m = i % 3 == 0;
      s.push_back(std::round((nd(g) + (m ? shift : 0)) * 20) / 20);  // rounded: plenty of ties
      y.push_back(m);
    }
    Roc r = roc_curve(s, y);
    EpsilonBound fast = epsilon_lower_bound(r, 1e-5), slow = epsilon_lower_bound_exhaustive(r, 1e-5);
    EXPECT_NEAR(fast.epsilon, slow.epsilon, 1e-12) << "shift " << shift;
    if (shift == 0.0) EXPECT_LT(fast.epsilon, 0.5);
    if (shift == 6.0) EXPECT_GT(fast.epsilon, 4.0);
  }
}
