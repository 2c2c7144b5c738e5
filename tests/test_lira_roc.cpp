// Pooled ROC metrics against brute-force definitions (with many ties), the known-answer cases of
// issue 5 (perfect separation; identical distributions), ROC thinning, and the sample bootstrap.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <set>

#include "attacks/bootstrap.h"
#include "attacks/lira_metrics.h"
#include "attacks/lira_run.h"
#include "attacks/roc.h"
#include "kernels/error.h"

using namespace sp;
using namespace sp::lira;

namespace {

struct Brute {
  double auc, bal_acc;
  std::vector<double> tpr;  // at kFprLevels
};

// Straight from the definitions: every distinct score (and +inf) is a threshold, "member" iff score >= t.
Brute brute(const std::vector<double>& s, const std::vector<uint8_t>& y) {
  std::set<double> th(s.begin(), s.end());
  th.insert(INFINITY);
  double P = 0, N = 0;
  for (uint8_t v : y) (v ? P : N) += 1;
  Brute b{0, 0, std::vector<double>(std::size(kFprLevels), 0.0)};
  for (double t : th) {
    double tp = 0, fp = 0;
    for (size_t i = 0; i < s.size(); ++i)
      if (s[i] >= t) (y[i] ? tp : fp) += 1;
    b.bal_acc = std::max(b.bal_acc, 0.5 * (1 + tp / P - fp / N));
    for (size_t k = 0; k < std::size(kFprLevels); ++k)
      if (fp / N <= kFprLevels[k]) b.tpr[k] = std::max(b.tpr[k], tp / P);
  }
  double u = 0;
  for (size_t i = 0; i < s.size(); ++i)
    for (size_t j = 0; j < s.size(); ++j)
      if (y[i] && !y[j]) u += s[i] > s[j] ? 1.0 : s[i] == s[j] ? 0.5 : 0.0;
  b.auc = u / (P * N);
  return b;
}

}  // namespace

TEST(LiraRoc, MatchesBruteForceWithTies) {
  std::mt19937_64 g(3);
  for (int rep = 0; rep < 6; ++rep) {
    const int n = 300 + 97 * rep;
    std::vector<double> s(static_cast<size_t>(n));
    std::vector<uint8_t> y(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) {
      y[size_t(i)] = uint8_t(g() % 2);
      // Few distinct values in some reps (heavy ties), continuous in others.
      s[size_t(i)] = rep % 2 ? double(int(g() % 7)) + y[size_t(i)] : std::normal_distribution<double>(y[size_t(i)] * 0.7, 1)(g);
    }
    Roc r = roc_curve(s, y);
    Brute b = brute(s, y);
    EXPECT_NEAR(roc_auc(r), b.auc, 1e-14);
    EXPECT_NEAR(balanced_accuracy(r), b.bal_acc, 1e-14);
    for (size_t k = 0; k < std::size(kFprLevels); ++k) EXPECT_EQ(tpr_at_fpr(r, kFprLevels[k]), b.tpr[k]) << k;
    // One point per distinct score plus the +inf start, TP and FP non-decreasing, ending at (P, N).
    EXPECT_EQ(r.points.size(), std::set<double>(s.begin(), s.end()).size() + 1);
    EXPECT_EQ(r.points.back().tp, r.P);
    EXPECT_EQ(r.points.back().fp, r.N);
  }
}

TEST(LiraRoc, TiesMoveTogether) {
  // All scores tied: the only thresholds call everybody or nobody a member.
  Roc r = roc_curve(std::vector<double>{1, 1, 1, 1}, std::vector<uint8_t>{1, 0, 1, 0});
  ASSERT_EQ(r.points.size(), 2u);
  EXPECT_EQ(tpr_at_fpr(r, 0.1), 0.0);
  EXPECT_EQ(tpr_at_fpr(r, 1.0), 1.0);
  EXPECT_EQ(roc_auc(r), 0.5);
  EXPECT_EQ(balanced_accuracy(r), 0.5);
  // One tie between a member and a non-member counts one half.
  Roc h = roc_curve(std::vector<double>{4, 3, 3, 1}, std::vector<uint8_t>{1, 1, 0, 0});
  EXPECT_EQ(roc_auc(h), (2 + 1 + 0.5) / 4);
  Roc k = roc_curve(std::vector<double>{4, 3, 2, 1}, std::vector<uint8_t>{1, 0, 1, 0});
  EXPECT_EQ(roc_auc(k), 0.75);
  // NaN scores (dropped pairs) are left out.
  Roc n = roc_curve(std::vector<double>{4, NAN, 2, 1}, std::vector<uint8_t>{1, 0, 1, 0});
  EXPECT_EQ(n.P, 2);
  EXPECT_EQ(n.N, 1);
  EXPECT_EQ(roc_auc(n), 1.0);
}

TEST(LiraRoc, FprBudgetIsInclusive) {
  // FP/N <= f: with N = 1000, exactly one false positive is allowed at 1e-3.
  std::vector<double> s;
  std::vector<uint8_t> y;
  for (int i = 0; i < 1000; ++i) {
    s.push_back(-i);
    y.push_back(0);
  }
  s.push_back(10);  // member above everything
  y.push_back(1);
  s.push_back(0.5);  // member just above the top non-member
  y.push_back(1);
  s.push_back(-0.5);  // and one just below it
  y.push_back(1);
  Roc r = roc_curve(s, y);
  EXPECT_DOUBLE_EQ(tpr_at_fpr(r, 1e-3), 1.0);  // the non-member at 0 is the single allowed FP
  EXPECT_DOUBLE_EQ(tpr_at_fpr(r, 9.99e-4), 2.0 / 3);
}

TEST(LiraRoc, PerfectSeparationGivesTprOneEverywhere) {
  std::vector<double> s;
  std::vector<uint8_t> y;
  for (int i = 0; i < 5000; ++i) {
    s.push_back(i % 2 ? 10.0 + i * 1e-3 : -10.0 - i * 1e-3);
    y.push_back(uint8_t(i % 2));
  }
  Roc r = roc_curve(s, y);
  for (double f : kFprLevels) EXPECT_EQ(tpr_at_fpr(r, f), 1.0);
  EXPECT_EQ(roc_auc(r), 1.0);
  EXPECT_EQ(balanced_accuracy(r), 1.0);
}

TEST(LiraRoc, IdenticalDistributionsGiveChance) {
  std::mt19937_64 g(9);
  std::normal_distribution<double> nd(0, 1);
  const int n = 400000;
  std::vector<double> s(static_cast<size_t>(n));
  std::vector<uint8_t> y(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    s[size_t(i)] = nd(g);
    y[size_t(i)] = uint8_t(i % 2);
  }
  std::vector<int64_t> order = order_desc(s);
  Roc r = roc_from_order(s, y, order);
  EXPECT_NEAR(roc_auc(r), 0.5, 0.004);
  EXPECT_NEAR(balanced_accuracy(r), 0.5, 0.005);
  // TPR ~ FPR, within a few binomial standard deviations of the member count at that rate.
  for (double f : {1e-3, 1e-2, 1e-1}) EXPECT_NEAR(tpr_at_fpr(r, f), f, 5 * std::sqrt(f / (n / 2)) + 2e-4) << f;
}

TEST(LiraRoc, RadixOrderEqualsComparisonSort) {
  std::mt19937_64 g(17);
  std::vector<double> s;
  for (int i = 0; i < 20000; ++i) {
    double v = std::normal_distribution<double>(0, 1e3)(g);
    if (i % 5 == 0) v = std::round(v / 100);  // ties
    if (i % 97 == 0) v = -0.0;
    if (i % 89 == 0) v = NAN;
    if (i % 83 == 0) v = i % 2 ? INFINITY : -INFINITY;
    if (i % 79 == 0) v = 1e-310 * (i % 3 ? 1 : -1);  // subnormals
    s.push_back(v);
  }
  std::vector<int64_t> want;
  for (int64_t i = 0; i < int64_t(s.size()); ++i)
    if (!std::isnan(s[size_t(i)])) want.push_back(i);
  std::stable_sort(want.begin(), want.end(), [&](int64_t a, int64_t b) { return s[size_t(a)] > s[size_t(b)]; });
  std::vector<int64_t> got = order_desc(s);
  // Ties (-0 and +0 included, as they compare equal) come in index order, as in the stable sort.
  ASSERT_EQ(got.size(), want.size());
  for (size_t k = 0; k < got.size(); ++k) EXPECT_EQ(s[size_t(got[k])], s[size_t(want[k])]) << k;
  EXPECT_EQ(got, want);
}

TEST(LiraRoc, ThinningKeepsExactCornerPoints) {
  std::mt19937_64 g(4);
  std::normal_distribution<double> nd(0, 1);
  std::vector<double> s;
  std::vector<uint8_t> y;
  for (int i = 0; i < 60000; ++i) {
    y.push_back(uint8_t(i % 2));
    s.push_back(nd(g) + 0.8 * (i % 2));
  }
  Roc r = roc_curve(s, y);
  std::vector<RocPoint> t = thin_roc(r, 200, 1.01);
  EXPECT_LT(t.size(), r.points.size() / 10);
  EXPECT_EQ(t.front().fp, 0);
  EXPECT_EQ(t.back().fp, r.N);
  std::set<std::pair<int64_t, int64_t>> all;
  for (const RocPoint& p : r.points) all.insert({p.tp, p.fp});
  for (const RocPoint& p : t) EXPECT_TRUE(all.count({p.tp, p.fp}));
  // Up to FP = 200 every corner survives: TPR at any budget there is unchanged.
  Roc thin;
  thin.P = r.P;
  thin.N = r.N;
  thin.points = t;
  for (int fp = 0; fp <= 200; fp += 7) EXPECT_EQ(tpr_at_fpr(thin, fp / double(r.N)), tpr_at_fpr(r, fp / double(r.N)));
  // Straight runs collapse to their ends.
  Roc line = roc_curve(std::vector<double>{5, 4, 3, 2, 1, 0}, std::vector<uint8_t>{1, 1, 1, 0, 0, 0});
  EXPECT_EQ(thin_roc(line).size(), 3u);
}

TEST(LiraBootstrap, ReplicatesAndDeterminism) {
  // 3 models x 2000 samples; pairs p = t * M + i.
  const int64_t S = 3, M = 2000;
  std::mt19937_64 g(21);
  std::normal_distribution<double> nd(0, 1);
  std::vector<double> s(size_t(S * M));
  std::vector<uint8_t> y(size_t(S * M));
  for (int64_t p = 0; p < S * M; ++p) {
    y[size_t(p)] = uint8_t((p / M + p % M) % 2);
    s[size_t(p)] = nd(g) + 2.0 * y[size_t(p)];
  }
  std::vector<int64_t> order = order_desc(s);
  Roc r = roc_from_order(s, y, order);
  std::vector<int32_t> ones(size_t(M), 1), twos(size_t(M), 2);
  EXPECT_EQ(weighted_tpr_at_fpr(s, y, order, M, ones, 1e-2), tpr_at_fpr(r, 1e-2));
  EXPECT_EQ(weighted_tpr_at_fpr(s, y, order, M, twos, 1e-2), tpr_at_fpr(r, 1e-2));
  auto boot = [&](int reps, uint64_t seed, int threads) {
    BootstrapTarget t{s, order};
    return bootstrap_tpr_at_fpr(std::span<const BootstrapTarget>(&t, 1), y, M, 1e-2, reps, seed, threads)[0];
  };
  BootstrapInterval a = boot(300, 7, 1);
  BootstrapInterval b = boot(300, 7, 2);
  EXPECT_EQ(a.replicates, 300);
  EXPECT_EQ(a.lo, b.lo);
  EXPECT_EQ(a.hi, b.hi);
  double est = tpr_at_fpr(r, 1e-2);
  EXPECT_LE(a.lo, est);
  EXPECT_GE(a.hi, est);
  EXPECT_LT(a.hi - a.lo, 0.2);
  BootstrapInterval c = boot(300, 8, 2);
  EXPECT_NE(a.lo + a.hi, c.lo + c.hi);  // another seed, other replicates
  EXPECT_THROW(boot(0, 7, 1), Error);
  // Two targets share their replicates: a target twice gives the same interval twice, and with the
  // scores negated (a useless attack) the interval sits near zero.
  std::vector<double> neg(s.size());
  for (size_t k = 0; k < s.size(); ++k) neg[k] = -s[k];
  std::vector<int64_t> neg_order = order_desc(neg);
  std::vector<BootstrapTarget> ts{{s, order}, {neg, neg_order}, {s, order}};
  std::vector<BootstrapInterval> m = bootstrap_tpr_at_fpr(ts, y, M, 1e-2, 300, 7, 2);
  EXPECT_EQ(m[0].lo, a.lo);
  EXPECT_EQ(m[0].hi, a.hi);
  EXPECT_EQ(m[2].hi, a.hi);
  EXPECT_LT(m[1].hi, 0.01);
  std::vector<int64_t> half(order.begin(), order.begin() + 100);
  std::vector<BootstrapTarget> mismatched{{s, order}, {s, half}};
  EXPECT_THROW(bootstrap_tpr_at_fpr(mismatched, y, M, 1e-2, 10, 7, 1), Error);
}

TEST(LiraMetrics, EvaluateCollectsEverything) {
  std::vector<double> s{3, 2, 1, 0};
  std::vector<uint8_t> y{1, 0, 1, 0};
  std::vector<int64_t> order = order_desc(s);
  MetricsOptions o;
  o.bootstrap = 50;
  Metrics m = evaluate(s, y, order, o, true);
  Metrics* mp = &m;
  BootstrapTarget bt{s, order};
  add_bootstrap(std::span<Metrics* const>(&mp, 1), std::span<const BootstrapTarget>(&bt, 1), y, 4, o);
  EXPECT_EQ(m.P, 2);
  EXPECT_EQ(m.N, 2);
  EXPECT_EQ(m.auc, 0.75);
  ASSERT_EQ(m.tpr_at_fpr.size(), std::size(kFprLevels));
  EXPECT_EQ(m.tpr_at_fpr[0].first, 1e-5);
  EXPECT_EQ(m.tpr_at_fpr[0].second, 0.5);
  ASSERT_TRUE(m.bootstrap.has_value());
  EXPECT_FALSE(m.curve.empty());
  // A subset without non-members has undefined metrics, reported as NaN (null in JSON).
  std::vector<int64_t> members{0, 2};
  Metrics u = evaluate(s, y, members, o, false);
  Metrics* up = &u;
  BootstrapTarget ut{s, members};
  add_bootstrap(std::span<Metrics* const>(&up, 1), std::span<const BootstrapTarget>(&ut, 1), y, 4, o);
  EXPECT_TRUE(std::isnan(u.auc));
  EXPECT_FALSE(u.bootstrap.has_value());
}

// Attacks that leave different pairs unscored (NaN: RMIA without enough reference models scores none) are
// bootstrapped apart: evaluate_attacks used to refuse the whole set, so sp_audit of a two-model experiment
// with population queries reported no attack at all. Attacks that score the same pairs still share replicates.
TEST(LiraMetrics, AttacksScoringDifferentPairsGetTheirOwnBootstrap) {
  const int64_t S = 4, M = 60;
  std::mt19937_64 rng(5);
  std::normal_distribution<double> n01;
  std::vector<uint8_t> labels(size_t(S * M));
  std::vector<double> a(labels.size());
  for (size_t p = 0; p < labels.size(); ++p) {
    labels[p] = uint8_t((p * 7 + p / 3) % 2);
    a[p] = n01(rng) + 1.5 * labels[p];
  }
  std::vector<double> twice(a), none(a.size(), std::nan("")), half(a);
  for (double& v : twice) v *= 2;  // the same order as a
  for (size_t p = 0; p < half.size(); p += 2) half[p] = std::nan("");
  lira::LiraConfig cfg;
  cfg.bootstrap = 200;
  const std::vector<AttackScores> all = {{Attack::online, a},
                                         {Attack::rmia_online, none},
                                         {Attack::offline, half},
                                         {Attack::global_threshold, twice}};
  std::vector<AttackResult> r;
  ASSERT_NO_THROW(r = evaluate_attacks(all, labels, S, M, cfg, 1));
  ASSERT_EQ(r.size(), 4u);
  ASSERT_TRUE(r[0].overall.bootstrap && r[3].overall.bootstrap && r[2].overall.bootstrap);
  EXPECT_FALSE(r[1].overall.bootstrap) << "no scored pairs, no interval";
  EXPECT_GT(r[2].overall.bootstrap->replicates, 0);
  // The first and last score the same pairs in the same order: paired replicates give equal intervals, and
  // the same as when they are evaluated without the others.
  EXPECT_EQ(r[0].overall.bootstrap->lo, r[3].overall.bootstrap->lo);
  EXPECT_EQ(r[0].overall.bootstrap->hi, r[3].overall.bootstrap->hi);
  const std::vector<AttackScores> pair = {all[0], all[3]};
  std::vector<AttackResult> alone = evaluate_attacks(pair, labels, S, M, cfg, 1);
  EXPECT_EQ(alone[0].overall.bootstrap->lo, r[0].overall.bootstrap->lo);
  EXPECT_EQ(alone[0].overall.bootstrap->hi, r[0].overall.bootstrap->hi);
}
