// The one-run audit (attacks/one_run_audit.h): p-values and epsilon bounds against an independent
// scipy computation, the shape of p in eps and v, the audit of one model's scores (perfect separation,
// no signal, NaN scores, a fixed guess) and argument checks.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "attacks/one_run_audit.h"
#include "kernels/error.h"

using namespace sp;
using namespace sp::lira;

namespace {

// Produced once with Python 3 and scipy 1.17.1 (float64 throughout) by this script, which evaluates the
// formulas of one_run_audit.h directly (binom.sf for beta, a cumulative sum of binom.pmf for alpha) and
// bisects to 1e-12:
//
//   import numpy as np
//   from scipy.stats import binom
//   def p_value(m, r, v, eps, delta):
//       q = np.exp(eps) / (1 + np.exp(eps))
//       beta = binom.sf(v - 1, r, q)                      # P[B >= v]
//       alpha = 0.0
//       if delta > 0 and v > 0:
//           ks = np.arange(v - 1, -1, -1)                 # v-1, v-2, ..., 0
//           s = np.cumsum(binom.pmf(ks, r, q))            # P[v-i <= B < v], i = 1..v
//           alpha = np.max(s / np.arange(1, v + 1))
//       return min(1.0, beta + 2 * m * delta * alpha)
//   def epsilon(m, r, v, delta, p_level):
//       if p_value(m, r, v, 0.0, delta) >= p_level: return 0.0
//       lo, hi = 0.0, 1.0
//       while p_value(m, r, v, hi, delta) < p_level: lo, hi = hi, 2 * hi
//       while hi - lo > 1e-12:
//           mid = 0.5 * (lo + hi)
//           if p_value(m, r, v, mid, delta) < p_level: lo = mid
//           else: hi = mid
//       return lo
//   for (m, r, v, d, pl) in cases:  # (m, r, v, delta, p_level) of the rows below
//       e = epsilon(m, r, v, d, pl)
//       ps = [p_value(m, r, v, x, d) for x in (0.0, 0.5 * e, e, 1.0)]
//       print("{%d, %d, %d, %.0e, %.2f, %.17g, {%s}}," % (m, r, v, d, pl, e, ", ".join("%.17g" % p for p in ps)))
struct Reference {
  int64_t m, r, v;
  double delta, p_level, epsilon;
  double p[4];  // p at eps = 0, epsilon / 2, epsilon, 1
};
const Reference kReferences[] = {
    {1000, 600, 600, 0e+00, 0.05, 5.2972434725843414,
     {2.4099198651028841e-181, 1.5398456310058382e-18, 0.049999999999894379, 2.3512923533182971e-82}},
    {1000, 600, 600, 1e-05, 0.05, 5.2703994635139679,
     {6.0417144541599522e-05, 0.00038095000205127247, 0.049999999999897342, 0.00010692857674655727}},
    {1000, 100, 95, 0e+00, 0.05, 2.1724340431928795,
     {6.2616225626926802e-23, 9.0989077911049603e-08, 0.04999999999999416, 1.4604700747998311e-08}},
    {1000, 100, 95, 1e-05, 0.05, 2.1651757997133245,
     {0.00036063658865772294, 0.00070824296421878575, 0.049999999999794438, 0.00066391446835290077}},
    {1000, 1000, 550, 0e+00, 0.05, 0.094223692532068526,
     {0.00086526804248815133, 0.0084550124866339827, 0.049999999999760125, 1}},
    {1000, 1000, 550, 1e-05, 0.05, 0.093988093056395883,
     {0.0011235474730390562, 0.0087233137344687219, 0.049999999999006686, 1}},
    {100, 100, 100, 1e-05, 0.01, 3.0486722388295675,
     {3.2954722756653995e-05, 8.0435826486932805e-05, 0.0099999999999760298, 5.6330898431976497e-05}},
    {10000, 200, 180, 1e-05, 0.05, 1.7716147054125031,
     {0.0020903938781181943, 0.0039179775926668579, 0.049999999999851719, 0.0043622192286144074}},
    {50, 10, 10, 0e+00, 0.05, 1.0518732332311629,
     {0.0009765625, 0.0096226333125096885, 0.049999999999929289, 0.043603542794128688}},
    {2000000, 1000000, 502000, 1e-06, 0.05, 0.0046608408320025774,
     {0.0013953367719992751, 0.0040530228211365319, 0.049999999979822227, 1}},
};

// Runs f, which must throw sp::Error with a message containing `needle`.
void expect_error_naming(const std::function<void()>& f, const std::string& needle) {
  try {
    f();
    ADD_FAILURE() << "no sp::Error thrown; expected one naming '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

// Canaries included with probability 1/2 (fixed seed); scores from `score(member, rng)`.
struct Canaries {
  std::vector<double> scores;
  std::vector<uint8_t> member;
};
template <class F>
Canaries make_canaries(int n, uint64_t seed, F score) {
  std::mt19937_64 rng(seed);
  std::bernoulli_distribution coin(0.5);
  Canaries c;
  for (int i = 0; i < n; ++i) {
    c.member.push_back(coin(rng) ? 1 : 0);
    c.scores.push_back(score(c.member.back(), rng));
  }
  return c;
}

}  // namespace

TEST(OneRunAudit, PValueMatchesScipy) {
  for (const Reference& c : kReferences) {
    const double eps[4] = {0, 0.5 * c.epsilon, c.epsilon, 1};
    for (int j = 0; j < 4; ++j) {
      const double got = one_run_p_value(c.m, c.r, c.v, eps[j], c.delta);
      EXPECT_NEAR(got, c.p[j], 1e-9 * c.p[j]) << "m=" << c.m << " r=" << c.r << " v=" << c.v << " delta=" << c.delta
                                              << " eps=" << eps[j];
    }
  }
}

TEST(OneRunAudit, EpsilonMatchesScipy) {
  for (const Reference& c : kReferences)
    EXPECT_NEAR(one_run_epsilon(c.m, c.r, c.v, c.delta, c.p_level), c.epsilon, 1e-7)
        << "m=" << c.m << " r=" << c.r << " v=" << c.v << " delta=" << c.delta;
}

TEST(OneRunAudit, PValueGrowsWithEpsilon) {
  // A more private algorithm allows fewer correct guesses, so the same v is less surprising as eps grows.
  for (const Reference& c : kReferences) {
    double prev = 0;
    for (double eps = 0; eps <= 8; eps += 0.05) {
      const double p = one_run_p_value(c.m, c.r, c.v, eps, c.delta);
      EXPECT_GE(p, prev) << "m=" << c.m << " r=" << c.r << " v=" << c.v << " delta=" << c.delta << " eps=" << eps;
      prev = p;
    }
  }
  EXPECT_EQ(one_run_p_value(100, 10, 10, std::numeric_limits<double>::infinity(), 0), 1.0);
  EXPECT_EQ(one_run_p_value(100, 10, 0, 2.0, 1e-5), 1.0);  // zero correct guesses are always reached
}

TEST(OneRunAudit, NoEvidenceGivesZero) {
  for (double delta : {0.0, 1e-5})
    for (int64_t r : {1, 2, 10, 11, 100, 101, 1000, 100000}) {
      EXPECT_EQ(one_run_epsilon(2 * r, r, r / 2, delta, 0.05), 0.0) << "r=" << r << " delta=" << delta;
      EXPECT_EQ(one_run_epsilon(2 * r, r, 0, delta, 0.05), 0.0) << "r=" << r << " delta=" << delta;
    }
  EXPECT_EQ(one_run_epsilon(1000, 0, 0, 0, 0.05), 0.0);
}

TEST(OneRunAudit, MoreCorrectGuessesGiveLargerEpsilon) {
  for (double delta : {0.0, 1e-5}) {
    double prev = 0;
    for (int64_t v = 60; v <= 100; ++v) {
      const double e = one_run_epsilon(1000, 100, v, delta, 0.05);
      EXPECT_GT(e, prev) << "v=" << v << " delta=" << delta;
      prev = e;
    }
    // delta > 0 can only weaken the bound.
    EXPECT_LE(one_run_epsilon(1000, 100, 90, 1e-5, 0.05), one_run_epsilon(1000, 100, 90, 0, 0.05));
  }
}

TEST(OneRunAudit, PerfectSeparation) {
  const Canaries c = make_canaries(1000, 7, [](uint8_t in, std::mt19937_64& rng) {
    return std::uniform_real_distribution<double>(0, 1)(rng) + (in ? 1.0 : 0.0);
  });
  for (double delta : {0.0, 1e-5}) {
    const OneRunResult res = one_run_audit(c.scores, c.member, {.delta = delta});
    EXPECT_EQ(res.m, 1000);
    // k in {1, 2, 5, 10, 20, 50, 100, 200, 500}, two-sided and IN-only.
    EXPECT_EQ(res.candidates, 18);
    EXPECT_NEAR(res.p_level, 0.05, 1e-15);
    EXPECT_EQ(res.delta, delta);
    EXPECT_GT(res.epsilon, 1.0);
    EXPECT_EQ(res.epsilon, res.best.epsilon);
    EXPECT_EQ(res.best.r, res.best.k_pos + res.best.k_neg);
    EXPECT_EQ(res.best.v, res.best.r);  // every guess right
    EXPECT_EQ(res.epsilon, one_run_epsilon(res.m, res.best.r, res.best.v, delta, res.p_level / 18));
  }
}

TEST(OneRunAudit, NoSignalGivesNearZero) {
  const int kSeeds = 20;
  double sum = 0;
  int zeros = 0;
  for (int s = 0; s < kSeeds; ++s) {
    const Canaries c = make_canaries(2000, 1000 + s, [](uint8_t, std::mt19937_64& rng) {
      return std::normal_distribution<double>(0, 1)(rng);
    });
    const OneRunResult res = one_run_audit(c.scores, c.member);
    EXPECT_EQ(res.candidates, 20);  // k up to 1000 = m/2
    sum += res.epsilon;
    zeros += res.epsilon == 0;
  }
  EXPECT_LT(sum / kSeeds, 0.1);
  EXPECT_GE(zeros, 17);
}

TEST(OneRunAudit, NanScoresAreDropped) {
  Canaries c = make_canaries(600, 3, [](uint8_t in, std::mt19937_64& rng) {
    return std::normal_distribution<double>(in ? 1.0 : 0.0, 1)(rng);
  });
  Canaries kept;
  for (size_t i = 0; i < c.scores.size(); ++i) {
    if (i % 3 == 0) {
      c.scores[i] = std::numeric_limits<double>::quiet_NaN();
    } else {
      kept.scores.push_back(c.scores[i]);
      kept.member.push_back(c.member[i]);
    }
  }
  const OneRunResult with_nan = one_run_audit(c.scores, c.member), clean = one_run_audit(kept.scores, kept.member);
  EXPECT_EQ(with_nan.m, 400);
  EXPECT_EQ(with_nan.candidates, clean.candidates);
  EXPECT_EQ(with_nan.epsilon, clean.epsilon);
  EXPECT_EQ(with_nan.best.r, clean.best.r);
  EXPECT_EQ(with_nan.best.v, clean.best.v);
  EXPECT_GT(clean.epsilon, 0.0);
}

TEST(OneRunAudit, FixedGuessAndTies) {
  // Equal scores rank by index: IN for canaries 0 and 1, OUT for canaries 4 and 5.
  const std::vector<double> scores = {1, 1, 1, 1, 1, 1};
  const std::vector<uint8_t> member = {1, 0, 1, 0, 0, 1};
  OneRunOptions opt{.fixed_guess = true, .k_pos = 2, .k_neg = 2};
  OneRunResult res = one_run_audit(scores, member, opt);
  EXPECT_EQ(res.candidates, 1);
  EXPECT_EQ(res.best.r, 4);
  EXPECT_EQ(res.best.v, 2);  // canary 0 (IN, member) and canary 4 (OUT, non-member)
  EXPECT_EQ(res.epsilon, 0.0);

  // Without correction a fixed guess reaches further than the same guess picked from the grid.
  const Canaries c = make_canaries(1000, 11, [](uint8_t in, std::mt19937_64& rng) {
    return std::normal_distribution<double>(in ? 2.0 : 0.0, 1)(rng);
  });
  const OneRunResult grid = one_run_audit(c.scores, c.member);
  opt = {.fixed_guess = true, .k_pos = grid.best.k_pos, .k_neg = grid.best.k_neg};
  res = one_run_audit(c.scores, c.member, opt);
  EXPECT_EQ(res.candidates, 1);
  EXPECT_EQ(res.best.v, grid.best.v);
  EXPECT_EQ(res.epsilon, one_run_epsilon(1000, res.best.r, res.best.v, 0, res.p_level));
  EXPECT_GT(res.epsilon, grid.epsilon);
}

TEST(OneRunAudit, BadArgumentsNameTheArgument) {
  expect_error_naming([] { one_run_p_value(100, 10, 11, 1, 0); }, "v (correct guesses) must be <= r");
  expect_error_naming([] { one_run_p_value(100, 10, -1, 1, 0); }, "v (correct guesses) must be >= 0");
  expect_error_naming([] { one_run_p_value(5, 10, 3, 1, 0); }, "r (guesses) must be <= m");
  expect_error_naming([] { one_run_p_value(100, 10, 3, -0.5, 0); }, "eps must be >= 0");
  expect_error_naming([] { one_run_p_value(100, 10, 3, std::nan(""), 0); }, "eps must be >= 0");
  expect_error_naming([] { one_run_p_value(100, 10, 3, 1, 1.5); }, "delta must be in [0, 1]");
  expect_error_naming([] { one_run_epsilon(100, 10, 3, -1e-5, 0.05); }, "delta must be in [0, 1]");
  expect_error_naming([] { one_run_epsilon(100, 10, 3, 0, 0); }, "p_level must be in (0, 1)");
  expect_error_naming([] { one_run_epsilon(100, 10, 3, 0, 1); }, "p_level must be in (0, 1)");

  const std::vector<double> scores = {0.1, 0.2, 0.3};
  const std::vector<uint8_t> member = {0, 1, 0}, bad_member = {0, 2, 0}, short_member = {0, 1};
  expect_error_naming([&] { one_run_audit(scores, short_member); }, "same length");
  expect_error_naming([&] { one_run_audit(scores, bad_member); }, "member must be 0 or 1");
  expect_error_naming([&] { one_run_audit(scores, member, {.delta = 2}); }, "delta must be in [0, 1]");
  expect_error_naming([&] { one_run_audit(scores, member, {.confidence = 1}); }, "confidence must be in (0, 1)");
  expect_error_naming([&] { one_run_audit(scores, member, {.fixed_guess = true, .k_pos = 2, .k_neg = 2}); },
                      "k_pos + k_neg <= m");
  // Fewer than two scored canaries: no candidate, no bound.
  const OneRunResult tiny = one_run_audit(std::vector<double>{0.5}, std::vector<uint8_t>{1});
  EXPECT_EQ(tiny.candidates, 0);
  EXPECT_EQ(tiny.epsilon, 0.0);
}
