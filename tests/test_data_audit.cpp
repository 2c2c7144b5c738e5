// Audit samples, canaries and membership: exactly S/2 IN per sample, canary labels never the true label and
// uniform over the other C-1 classes (chi-square), uniform audit choice (chi-square over seeds), determinism
// from the seed, private training-set composition, bad input.
#include "data/audit.h"
#include "tests/data_test_util.h"

using namespace sp;
using namespace sp::data;

namespace {
std::vector<int64_t> cyclic_labels(int64_t n, int c) {
  std::vector<int64_t> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[size_t(i)] = (i * 7 + i / 13) % c;
  return v;
}
}  // namespace

TEST(DataAudit, DefaultsGiveDistinctSortedSamples) {
  auto y = cyclic_labels(50000, 10);
  AuditSet a = choose_audit_set(y, 10, 500, CanaryType::mislabel, 0);
  ASSERT_EQ(a.size(), 500);
  for (int64_t j = 0; j < 500; ++j) {
    if (j) ASSERT_LT(a.indices[size_t(j - 1)], a.indices[size_t(j)]);  // ascending, hence distinct
    ASSERT_GE(a.indices[size_t(j)], 0);
    ASSERT_LT(a.indices[size_t(j)], 50000);
    EXPECT_EQ(a.true_labels[size_t(j)], y[size_t(a.indices[size_t(j)])]);
    EXPECT_NE(a.labels[size_t(j)], a.true_labels[size_t(j)]);
  }
  AuditSet clean = choose_audit_set(y, 10, 500, CanaryType::clean, 0);
  EXPECT_EQ(clean.indices, a.indices);  // same seed, same audit samples, whatever the canary type
  EXPECT_EQ(clean.labels, clean.true_labels);
}

TEST(DataAudit, CanaryLabelsUniformOverOtherClasses) {
  const int C = 10;
  auto y = cyclic_labels(40000, C);
  AuditSet a = choose_audit_set(y, C, 40000, CanaryType::mislabel, 3);  // every sample: 4,000 per class
  std::vector<std::vector<int64_t>> counts(C, std::vector<int64_t>(C, 0));
  for (int64_t j = 0; j < a.size(); ++j) {
    ASSERT_NE(a.labels[size_t(j)], a.true_labels[size_t(j)]);
    ASSERT_GE(a.labels[size_t(j)], 0);
    ASSERT_LT(a.labels[size_t(j)], C);
    ++counts[size_t(a.true_labels[size_t(j)])][size_t(a.labels[size_t(j)])];
  }
  double total = 0;
  for (int t = 0; t < C; ++t) {
    std::vector<int64_t> others;
    for (int c = 0; c < C; ++c)
      if (c != t) others.push_back(counts[size_t(t)][size_t(c)]);
    double x = test::chi_square_uniform(others);
    EXPECT_GT(test::chi_square_p_value(x, C - 2), 1e-4) << "true class " << t;
    total += x;
  }
  EXPECT_GT(test::chi_square_p_value(total, C * (C - 2)), 1e-3);
  // Two classes: the canary label is always the other one.
  AuditSet b = choose_audit_set(cyclic_labels(100, 2), 2, 50, CanaryType::mislabel, 1);
  for (int64_t j = 0; j < 50; ++j) EXPECT_EQ(b.labels[size_t(j)], 1 - b.true_labels[size_t(j)]);
}

TEST(DataAudit, AuditChoiceIsUniform) {
  const int64_t N = 40, M = 10;
  auto y = cyclic_labels(N, 4);
  std::vector<int64_t> hits(N, 0);
  for (uint64_t seed = 0; seed < 2000; ++seed)
    for (int64_t i : choose_audit_set(y, 4, M, CanaryType::clean, seed).indices) ++hits[size_t(i)];
  EXPECT_GT(test::chi_square_p_value(test::chi_square_uniform(hits), int(N) - 1), 1e-4);
}

TEST(DataAudit, ExactlyHalfTheModelsPerSample) {
  for (int S : {2, 4, 32, 64}) {
    Membership m = assign_membership(500, S, 11);
    std::vector<int64_t> per_model(size_t(S), 0);
    for (int64_t j = 0; j < 500; ++j) {
      int in = 0;
      for (int k = 0; k < S; ++k) {
        in += m.in(k, j);
        per_model[size_t(k)] += m.in(k, j);
      }
      ASSERT_EQ(in, S / 2) << "S " << S << " sample " << j;
    }
    // Each model holds about M/2 audit samples (binomial-like spread), none degenerate.
    for (int k = 0; k < S; ++k) {
      EXPECT_GT(per_model[size_t(k)], 250 - 5 * 12) << "S " << S << " model " << k;
      EXPECT_LT(per_model[size_t(k)], 250 + 5 * 12) << "S " << S << " model " << k;
    }
  }
  // Each model is IN for a given sample with probability 1/2, independently of the sample.
  Membership m = assign_membership(20000, 32, 5);
  for (int k : {0, 13, 31}) {
    int64_t in = 0;
    for (int64_t j = 0; j < 20000; ++j) in += m.in(k, j);
    EXPECT_NEAR(double(in) / 20000, 0.5, 0.015) << "model " << k;
  }
  // Pairs of models share about a quarter... more precisely (S/2-1)/(S-1) of one model's INs.
  int64_t both = 0, first = 0;
  for (int64_t j = 0; j < 20000; ++j) {
    first += m.in(0, j);
    both += m.in(0, j) && m.in(1, j);
  }
  EXPECT_NEAR(double(both) / double(first), 15.0 / 31.0, 0.02);
}

TEST(DataAudit, DeterministicFromSeed) {
  auto y = cyclic_labels(5000, 10);
  AuditSet a = choose_audit_set(y, 10, 100, CanaryType::mislabel, 9), b = choose_audit_set(y, 10, 100, CanaryType::mislabel, 9);
  EXPECT_EQ(a.indices, b.indices);
  EXPECT_EQ(a.labels, b.labels);
  AuditSet c = choose_audit_set(y, 10, 100, CanaryType::mislabel, 10);
  EXPECT_NE(a.indices, c.indices);
  EXPECT_EQ(assign_membership(100, 8, 9).keep, assign_membership(100, 8, 9).keep);
  EXPECT_NE(assign_membership(100, 8, 9).keep, assign_membership(100, 8, 10).keep);
  // A sample's canary label depends on (seed, index) only, not on how many audit samples there are.
  AuditSet big = choose_audit_set(y, 10, 5000, CanaryType::mislabel, 9);
  for (int64_t j = 0; j < a.size(); ++j) EXPECT_EQ(a.labels[size_t(j)], big.labels[size_t(a.indices[size_t(j)])]);
}

TEST(DataAudit, PrivateTrainingSets) {
  auto y = cyclic_labels(1000, 10);
  AuditSet a = choose_audit_set(y, 10, 40, CanaryType::mislabel, 2);
  Membership m = assign_membership(40, 4, 2);
  std::vector<int64_t> tl = training_labels(y, a);
  for (int64_t j = 0; j < 40; ++j) EXPECT_EQ(tl[size_t(a.indices[size_t(j)])], a.labels[size_t(j)]);
  std::vector<int> seen(1000, 0);
  for (int k = 0; k < 4; ++k) {
    TrainingSet t = private_training_set(y, a, m, k);
    int64_t ins = 0;
    for (int64_t j = 0; j < 40; ++j) ins += m.in(k, j);
    EXPECT_EQ(int64_t(t.indices.size()), 960 + ins);
    std::vector<uint8_t> member(1000, 0);
    for (size_t i = 0; i < t.indices.size(); ++i) {
      member[size_t(t.indices[i])] = 1;
      EXPECT_EQ(t.labels[i], tl[size_t(t.indices[i])]);
      ++seen[size_t(t.indices[i])];
    }
    for (int64_t j = 0; j < 40; ++j) EXPECT_EQ(member[size_t(a.indices[size_t(j)])], m.in(k, j));
    EXPECT_EQ(m.row(k).size(), 40u);
  }
  for (int64_t i = 0; i < 1000; ++i) {
    bool audit = std::binary_search(a.indices.begin(), a.indices.end(), i);
    EXPECT_EQ(seen[size_t(i)], audit ? 2 : 4) << i;  // audit samples: in S/2 = 2 of the 4 models
  }
}

TEST(DataAudit, BadInput) {
  auto y = cyclic_labels(100, 10);
  EXPECT_THROW(choose_audit_set(y, 10, 0, CanaryType::mislabel, 0), Error);
  EXPECT_THROW(choose_audit_set(y, 10, 101, CanaryType::mislabel, 0), Error);
  EXPECT_THROW(choose_audit_set(y, 5, 10, CanaryType::mislabel, 0), Error);  // labels >= 5
  EXPECT_THROW(choose_audit_set({0, 0, 0}, 1, 1, CanaryType::mislabel, 0), Error);
  EXPECT_THROW(assign_membership(10, 3, 0), Error);
  EXPECT_THROW(assign_membership(10, 0, 0), Error);
  EXPECT_THROW(assign_membership(0, 4, 0), Error);
  EXPECT_THROW(parse_canary("noise"), Error);
  AuditSet a = choose_audit_set(y, 10, 10, CanaryType::mislabel, 0);
  EXPECT_THROW(private_training_set(y, a, assign_membership(11, 4, 0), 0), Error);
  EXPECT_THROW(private_training_set(y, a, assign_membership(10, 4, 0), 4), Error);
  EXPECT_THROW(training_labels(cyclic_labels(100, 3), a), Error);  // a different training set
}
