// The four LiRA attacks against an independent, deliberately direct f64 implementation written here
// (for every fold and sample: collect the other models' IN/OUT values, fit, score), to 1e-9, for mean and
// median fits, both std estimators, both offline scores, odd S with odd IN counts per fold, unbalanced
// keep masks, dropped pairs and 1 vs 2 threads; plus the fit-count errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "attacks/lira_attacks.h"
#include "attacks/roc.h"

using namespace sp;
using namespace sp::lira;

namespace {

struct Experiment {
  int64_t S, M, A;
  std::vector<double> phi;    // [S][M][A]
  std::vector<uint8_t> keep;  // [S][M]
  double at(int64_t s, int64_t i, int64_t a) const { return phi[size_t((s * M + i) * A + a)]; }
  bool in(int64_t s, int64_t i) const { return keep[size_t(s * M + i)]; }
  bool ok(int64_t s, int64_t i) const { return std::isfinite(at(s, i, 0)); }
};

// Members per sample: exactly n_in (balanced) or a random count in [lo, S - lo].
Experiment make(int64_t S, int64_t M, int64_t A, uint64_t seed, int64_t n_in) {
  Experiment e{S, M, A, std::vector<double>(size_t(S * M * A)), std::vector<uint8_t>(size_t(S * M), 0)};
  std::mt19937_64 g(seed);
  std::normal_distribution<double> nd(0, 1);
  std::vector<int64_t> perm(static_cast<size_t>(S));
  for (int64_t i = 0; i < M; ++i) {
    for (int64_t s = 0; s < S; ++s) perm[size_t(s)] = s;
    std::shuffle(perm.begin(), perm.end(), g);
    int64_t k = n_in > 0 ? n_in : 3 + int64_t(g() % uint64_t(S - 5));
    for (int64_t j = 0; j < k; ++j) e.keep[size_t(perm[size_t(j)] * M + i)] = 1;
    double base = 2 + 3 * nd(g), gain = std::abs(nd(g));
    for (int64_t s = 0; s < S; ++s) {
      double model = base + (e.in(s, i) ? gain : 0) + nd(g);
      for (int64_t a = 0; a < A; ++a) e.phi[size_t((s * M + i) * A + a)] = model + 0.4 * nd(g) + 0.1 * a;
    }
  }
  return e;
}

double ref_mean(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return s / double(v.size());
}
double ref_median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}
double ref_std(const std::vector<double>& v, int ddof) {
  double m = ref_mean(v), q = 0;
  for (double x : v) q += (x - m) * (x - m);
  return std::sqrt(q / double(int64_t(v.size()) - ddof));
}
double ref_log_pdf(double x, double mu, double sd) {
  return -0.5 * std::log(2 * M_PI) - std::log(sd) - 0.5 * (x - mu) * (x - mu) / (sd * sd);
}

// The reference: scores [S][M], NaN for dropped pairs.
std::vector<double> reference(const Experiment& e, Attack attack, Fit fit, int ddof, OfflineScore off, bool equalize) {
  const double nan = std::nan("");
  std::vector<double> out(size_t(e.S * e.M), nan);
  for (int64_t t = 0; t < e.S; ++t) {
    double g_in = 0, g_out = 0;
    if (attack == Attack::online_global_variance) {
      std::vector<double> all_in, all_out;
      for (int64_t s = 0; s < e.S; ++s)
        for (int64_t i = 0; i < e.M; ++i)
          for (int64_t a = 0; a < e.A; ++a)
            if (s != t && e.ok(s, i)) (e.in(s, i) ? all_in : all_out).push_back(e.at(s, i, a));
      g_in = ref_std(all_in, ddof) + 1e-30;
      g_out = ref_std(all_out, ddof) + 1e-30;
    }
    for (int64_t i = 0; i < e.M; ++i) {
      if (!e.ok(t, i)) continue;
      if (attack == Attack::global_threshold) {
        out[size_t(t * e.M + i)] = e.at(t, i, 0);
        continue;
      }
      double sum = 0;
      for (int64_t a = 0; a < e.A; ++a) {
        std::vector<double> vin, vout;
        for (int64_t s = 0; s < e.S; ++s)
          if (s != t && e.ok(s, i)) (e.in(s, i) ? vin : vout).push_back(e.at(s, i, a));
        if (equalize) {  // the other group loses one model too
          std::vector<double>& other = e.in(t, i) ? vout : vin;
          other.erase(other.begin() + fold_drop_index(i, t, int64_t(other.size())));
        }
        const double x = e.at(t, i, a);
        auto centre = [&](const std::vector<double>& v) { return fit == Fit::mean ? ref_mean(v) : ref_median(v); };
        if (attack == Attack::online) {
          sum += ref_log_pdf(x, centre(vin), ref_std(vin, ddof) + 1e-30) -
                 ref_log_pdf(x, centre(vout), ref_std(vout, ddof) + 1e-30);
        } else if (attack == Attack::online_global_variance) {
          sum += ref_log_pdf(x, centre(vin), g_in) - ref_log_pdf(x, centre(vout), g_out);
        } else {
          double sd = ref_std(vout, ddof) + 1e-30, z = (x - centre(vout)) / sd;
          sum += off == OfflineScore::cdf ? std::log(0.5 * std::erfc(-z / std::sqrt(2.0))) : -ref_log_pdf(x, centre(vout), sd);
        }
      }
      out[size_t(t * e.M + i)] = sum / double(e.A);
    }
  }
  return out;
}

void expect_matches(const Experiment& e, const AttackOptions& opt, const std::string& what) {
  LiraData d = make_lira_data(e.S, e.M, e.A, e.phi, e.keep);
  std::vector<AttackScores> got = run_attacks(d, kAllAttacks, opt);
  ASSERT_EQ(got.size(), std::size(kAllAttacks));
  for (const AttackScores& as : got) {
    std::vector<double> want = reference(e, as.attack, opt.fit, opt.ddof, opt.offline, opt.equalize_folds);
    ASSERT_EQ(as.scores.size(), want.size());
    int bad = 0;
    for (size_t k = 0; k < want.size(); ++k) {
      bool same = std::isnan(want[k]) ? std::isnan(as.scores[k])
                                      : std::abs(as.scores[k] - want[k]) <= 1e-9 * std::max(1.0, std::abs(want[k]));
      if (!same && bad++ < 3)
        ADD_FAILURE() << what << " " << attack_name(as.attack) << " pair " << k << ": got " << as.scores[k] << " want "
                      << want[k];
    }
    EXPECT_EQ(bad, 0) << what << " " << attack_name(as.attack);
  }
}

}  // namespace

TEST(LiraAttacks, MatchReferenceMeanSampleStd) {
  AttackOptions o;
  expect_matches(make(8, 40, 3, 1, 4), o, "S=8 balanced");
}

TEST(LiraAttacks, MatchReferenceOddSAndOddInCounts) {
  // S = 9, each sample IN for 4 models: folds have 3 IN / 5 OUT or 4 IN / 4 OUT.
  AttackOptions o;
  o.threads = 2;
  expect_matches(make(9, 37, 2, 2, 4), o, "S=9");
  // S = 7 with unbalanced random IN counts per sample.
  expect_matches(make(11, 33, 4, 3, 0), o, "S=11 unbalanced");
}

TEST(LiraAttacks, MatchReferenceCarliniChoices) {
  AttackOptions o;
  o.fit = Fit::median;
  o.ddof = 0;
  o.offline = OfflineScore::pdf;
  expect_matches(make(10, 30, 3, 4, 5), o, "median/population/pdf");
  expect_matches(make(9, 30, 2, 5, 0), o, "median odd");
  o.fit = Fit::mean;
  o.ddof = 0;
  o.offline = OfflineScore::cdf;
  expect_matches(make(7, 25, 2, 6, 3), o, "mean/population");
}

TEST(LiraAttacks, MatchReferenceEqualizedFolds) {
  AttackOptions o;
  o.equalize_folds = true;
  expect_matches(make(9, 31, 2, 16, 4), o, "equalized S=9");
  o.fit = Fit::median;
  o.ddof = 0;
  o.offline = OfflineScore::pdf;
  expect_matches(make(11, 29, 3, 17, 0), o, "equalized median unbalanced");
}

TEST(LiraAttacks, EqualizedFoldsRemoveTheSmallSBias) {
  // No leakage, S = 8, every sample IN for 4 models: plain leave-one-out is biased, equalized is not.
  Experiment z = make(8, 6000, 2, 18, 4);
  std::mt19937_64 g(19);
  std::normal_distribution<double> nd(0, 1);
  for (double& v : z.phi) v = nd(g);
  LiraData d = make_lira_data(z.S, z.M, z.A, z.phi, z.keep);
  AttackOptions plain, eq;
  plain.threads = eq.threads = 2;
  eq.equalize_folds = true;
  std::vector<AttackScores> p = run_attacks(d, kAllAttacks, plain), q = run_attacks(d, kAllAttacks, eq);
  EXPECT_LT(roc_auc(roc_curve(p[0].scores, z.keep)), 0.45);  // online, plain
  for (const AttackScores& as : q) {
    Roc r = roc_curve(as.scores, z.keep);
    EXPECT_NEAR(roc_auc(r), 0.5, 0.01) << attack_name(as.attack);
    EXPECT_NEAR(balanced_accuracy(r), 0.5, 0.012) << attack_name(as.attack);
  }
  // Equalized folds need one more model per group: 2 IN are not enough for the online attack.
  for (int64_t s = 0; s < z.S; ++s) z.keep[size_t(s * z.M + 9)] = s < 2;
  EXPECT_NO_THROW(run_attacks(make_lira_data(z.S, z.M, z.A, z.phi, z.keep), std::vector<Attack>{Attack::offline}, eq));
  EXPECT_THROW(run_attacks(make_lira_data(z.S, z.M, z.A, z.phi, z.keep), kAllAttacks, eq), Error);
  EXPECT_THROW(fold_drop_index(1, 2, 0), Error);
}

TEST(LiraAttacks, DroppedPairsAreLeftOut) {
  Experiment e = make(10, 30, 3, 7, 5);
  for (int64_t a = 0; a < e.A; ++a) {
    e.phi[size_t((2 * e.M + 5) * e.A + a)] = std::nan("");
    e.phi[size_t((7 * e.M + 11) * e.A + a)] = std::nan("");
  }
  LiraData d = make_lira_data(e.S, e.M, e.A, e.phi, e.keep);
  EXPECT_EQ(d.dropped_pairs, 2);
  AttackOptions o;
  expect_matches(e, o, "dropped pairs");
  std::vector<AttackScores> s = run_attacks(d, kAllAttacks, o);
  EXPECT_TRUE(std::isnan(s[0].scores[size_t(2 * e.M + 5)]));
}

TEST(LiraAttacks, ThreadCountDoesNotChangeScores) {
  Experiment e = make(12, 700, 2, 8, 6);  // several blocks of samples
  LiraData d = make_lira_data(e.S, e.M, e.A, e.phi, e.keep);
  AttackOptions one, two;
  one.threads = 1;
  two.threads = 2;
  auto a = run_attacks(d, kAllAttacks, one), b = run_attacks(d, kAllAttacks, two);
  for (size_t k = 0; k < a.size(); ++k) EXPECT_EQ(a[k].scores, b[k].scores) << attack_name(a[k].attack);
  FoldSigmas f1 = global_fold_sigmas(d, 1, 1), f2 = global_fold_sigmas(d, 1, 2);
  EXPECT_EQ(f1.in, f2.in);
  EXPECT_EQ(f1.out, f2.out);
}

TEST(LiraAttacks, LeaveOneOutSurvivesOutliersAndConstants) {
  // One IN value dwarfs the others (the downdate would cancel) and another sample is constant (sigma 0).
  Experiment e = make(8, 4, 2, 9, 4);
  for (int64_t s = 0; s < e.S; ++s)
    for (int64_t a = 0; a < e.A; ++a) {
      if (e.in(s, 0)) e.phi[size_t((s * e.M + 0) * e.A + a)] = 1.0 + 1e-7 * double(s);
      e.phi[size_t((s * e.M + 1) * e.A + a)] = 3.0;
    }
  int64_t first_in = 0;
  while (!e.in(first_in, 0)) ++first_in;
  for (int64_t a = 0; a < e.A; ++a) e.phi[size_t((first_in * e.M + 0) * e.A + a)] = 1e8;
  AttackOptions o;
  expect_matches(e, o, "outlier");
  LiraData d = make_lira_data(e.S, e.M, e.A, e.phi, e.keep);
  for (const AttackScores& as : run_attacks(d, kAllAttacks, o))
    for (double v : as.scores) EXPECT_TRUE(std::isfinite(v)) << attack_name(as.attack);
}

TEST(LiraAttacks, SelectedAttacksOnlyAndNames) {
  Experiment e = make(6, 10, 1, 10, 3);
  LiraData d = make_lira_data(e.S, e.M, e.A, e.phi, e.keep);
  std::vector<Attack> sel{Attack::global_threshold, Attack::offline};
  auto got = run_attacks(d, sel, AttackOptions{});
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].attack, Attack::global_threshold);
  EXPECT_EQ(got[0].scores[size_t(3 * e.M + 4)], e.at(3, 4, 0));
  std::vector<Attack> twice{Attack::offline, Attack::offline};
  EXPECT_THROW(run_attacks(d, twice, AttackOptions{}), Error);
  for (Attack a : kAllAttacks) EXPECT_EQ(attack_from_name(attack_name(a)), a);
  EXPECT_THROW(attack_from_name("rmia"), Error);
  EXPECT_THROW(fit_from_name("mode"), Error);
}

TEST(LiraAttacks, TooFewShadowModelsIsAnError) {
  // Sample 3 is IN for 2 models only: with one of them as target, 1 IN model remains.
  Experiment e = make(6, 8, 1, 11, 3);
  for (int64_t s = 0; s < e.S; ++s) e.keep[size_t(s * e.M + 3)] = s < 2;
  LiraData d = make_lira_data(e.S, e.M, e.A, e.phi, e.keep);
  try {
    run_attacks(d, kAllAttacks, AttackOptions{});
    ADD_FAILURE() << "no error";
  } catch (const Error& err) {
    std::string m = err.what();
    EXPECT_NE(m.find("sample 3"), std::string::npos) << m;
    EXPECT_NE(m.find("IN for 1"), std::string::npos) << m;
    EXPECT_NE(m.find("online"), std::string::npos) << m;
  }
  // The offline attack needs OUT models only and global_threshold needs none.
  std::vector<Attack> ok{Attack::offline, Attack::global_threshold};
  EXPECT_NO_THROW(run_attacks(d, ok, AttackOptions{}));
  // A sample that is OUT for only one other model fails the offline attack.
  for (int64_t s = 0; s < e.S; ++s) e.keep[size_t(s * e.M + 3)] = s >= 2;
  for (int64_t s = 0; s < e.S; ++s) e.keep[size_t(s * e.M + 5)] = s != 0 && s != 1 && s != 2 && s != 3;
  LiraData d2 = make_lira_data(e.S, e.M, e.A, e.phi, e.keep);
  std::vector<Attack> off{Attack::offline};
  EXPECT_THROW(run_attacks(d2, off, AttackOptions{}), Error);
  std::vector<Attack> glob{Attack::global_threshold};
  EXPECT_NO_THROW(run_attacks(d2, glob, AttackOptions{}));
}

TEST(LiraAttacks, KnownAnswers) {
  // Members perfectly separated from non-members in every sample: TPR 1 at every FPR, for every attack.
  Experiment e = make(8, 300, 2, 12, 4);
  std::mt19937_64 g(13);
  std::normal_distribution<double> nd(0, 1);
  for (int64_t s = 0; s < e.S; ++s)
    for (int64_t i = 0; i < e.M; ++i)
      for (int64_t a = 0; a < e.A; ++a)
        e.phi[size_t((s * e.M + i) * e.A + a)] = 0.5 * double(i % 7) + (e.in(s, i) ? 50.0 : 0.0) + 0.05 * nd(g);
  std::vector<uint8_t> label(e.keep);  // [S][M], the pair order of the scores
  for (const AttackScores& as : run_attacks(make_lira_data(e.S, e.M, e.A, e.phi, e.keep), kAllAttacks, AttackOptions{})) {
    Roc r = roc_curve(as.scores, label);
    for (double f : kFprLevels) EXPECT_EQ(tpr_at_fpr(r, f), 1.0) << attack_name(as.attack) << " at " << f;
    EXPECT_EQ(roc_auc(r), 1.0) << attack_name(as.attack);
  }
  // Membership without effect on phi: chance level. With few models the protocol itself is biased:
  // a member target leaves k-1 IN and k OUT shadow models, a non-member k IN and k-1 OUT, and the smaller
  // fit predicts worse, so under the null online scores of members are lower (AUC ~0.485 at S = 24).
  // With S = 64 the asymmetry (31 vs 32 models) is within the tolerance.
  Experiment z = make(64, 1000, 2, 14, 32);
  for (int64_t s = 0; s < z.S; ++s)
    for (int64_t i = 0; i < z.M; ++i)
      for (int64_t a = 0; a < z.A; ++a) z.phi[size_t((s * z.M + i) * z.A + a)] = double(i % 11) + nd(g);
  AttackOptions two;
  two.threads = 2;
  for (const AttackScores& as : run_attacks(make_lira_data(z.S, z.M, z.A, z.phi, z.keep), kAllAttacks, two)) {
    Roc r = roc_curve(as.scores, z.keep);
    EXPECT_NEAR(roc_auc(r), 0.5, 0.01) << attack_name(as.attack);
    EXPECT_NEAR(tpr_at_fpr(r, 0.1), 0.1, 0.015) << attack_name(as.attack);
    EXPECT_NEAR(tpr_at_fpr(r, 0.01), 0.01, 0.005) << attack_name(as.attack);
  }
}

TEST(LiraAttacks, FoldsShortOnlyBecauseOfDroppedPairsAreUnscored) {
  // S = 6, sample 2 IN for models 0-2: dropping (model 4, sample 2) leaves the folds of targets 3 and 5
  // with a single OUT model.
  Experiment e = make(6, 5, 2, 15, 3);
  for (int64_t s = 0; s < e.S; ++s) e.keep[size_t(s * e.M + 2)] = s < 3;
  for (int64_t a = 0; a < e.A; ++a) e.phi[size_t((4 * e.M + 2) * e.A + a)] = std::nan("");
  LiraData d = make_lira_data(e.S, e.M, e.A, e.phi, e.keep);
  int64_t unscored = -1;
  auto got = run_attacks(d, kAllAttacks, AttackOptions{}, &unscored);
  EXPECT_EQ(unscored, 2);
  for (const AttackScores& as : got) {
    EXPECT_TRUE(std::isnan(as.scores[size_t(3 * e.M + 2)])) << attack_name(as.attack);
    EXPECT_TRUE(std::isnan(as.scores[size_t(5 * e.M + 2)])) << attack_name(as.attack);
    EXPECT_TRUE(std::isfinite(as.scores[size_t(0 * e.M + 2)])) << attack_name(as.attack);
  }
  // A shortfall already in the keep masks stays an error, drops or not.
  for (int64_t s = 0; s < e.S; ++s) e.keep[size_t(s * e.M + 2)] = s < 1;
  EXPECT_THROW(run_attacks(make_lira_data(e.S, e.M, e.A, e.phi, e.keep), kAllAttacks, AttackOptions{}), Error);
}
