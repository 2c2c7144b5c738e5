// Coreset selection primitives on the host: pools and budgets (per class or global), the uniform chooser
// (size, per-class balance, determinism from the seed, roughly uniform inclusion), the top-score chooser
// (order, +inf first, seeded tie-breaking, NaN refused), and forgetting-event counting on hand-built
// sequences of correctness flags (right -> wrong transitions; never-learned samples most forgettable).
#include <cmath>
#include <limits>

#include "paradigms/coreset/budget.h"
#include "paradigms/coreset/forgetting.h"
#include "tests/test_util.h"

using namespace sp;
using namespace sp::coreset;

namespace {

// Labels of n samples with class sizes `sizes` (interleaved, so classes are not contiguous).
std::vector<int64_t> labels_with_sizes(const std::vector<int64_t>& sizes) {
  std::vector<int64_t> left = sizes, out;
  for (bool any = true; any;) {
    any = false;
    for (size_t c = 0; c < left.size(); ++c)
      if (left[c] > 0) out.push_back(int64_t(c)), --left[c], any = true;
  }
  return out;
}

std::vector<int64_t> class_counts(const std::vector<int64_t>& labels, const std::vector<int64_t>& chosen, size_t C) {
  std::vector<int64_t> h(C, 0);
  for (int64_t p : chosen) ++h[size_t(labels[size_t(p)])];
  return h;
}

}  // namespace

TEST(CoresetSelect, PoolsAndBudgets) {
  std::vector<int64_t> labels = {2, 0, 2, 1, 0, 2};
  std::vector<Pool> pools = make_pools(labels, true);
  ASSERT_EQ(pools.size(), 3u);
  EXPECT_EQ(pools[0].label, 0);
  EXPECT_EQ(pools[0].positions, (std::vector<int64_t>{1, 4}));
  EXPECT_EQ(pools[2].positions, (std::vector<int64_t>{0, 2, 5}));
  pools = make_pools(labels, false);
  ASSERT_EQ(pools.size(), 1u);
  EXPECT_EQ(pools[0].label, -1);
  EXPECT_EQ(pools[0].positions.size(), 6u);
  EXPECT_EQ(pool_budget(10, 0.4), 4);
  EXPECT_EQ(pool_budget(7, 0.5), 4);  // halves round away from zero
  EXPECT_EQ(pool_budget(3, 0.1), 0);
  EXPECT_EQ(pool_budget(3, 1.0), 3);
}

TEST(CoresetSelect, UniformHasTheRightSizeAndPerClassBalance) {
  std::vector<int64_t> labels = labels_with_sizes({50, 37, 12, 1, 100});
  for (bool balance : {true, false}) {
    std::vector<int64_t> got = select_from_pools(labels, 0.4, balance, 11, choose_uniform);
    EXPECT_TRUE(std::is_sorted(got.begin(), got.end()));
    EXPECT_EQ(std::adjacent_find(got.begin(), got.end()), got.end()) << "distinct";
    for (int64_t p : got) ASSERT_TRUE(p >= 0 && p < int64_t(labels.size()));
    if (balance) {
      EXPECT_EQ(class_counts(labels, got, 5), (std::vector<int64_t>{20, 15, 5, 0, 40}));
    } else {
      EXPECT_EQ(got.size(), 80u);  // round(0.4 * 200)
    }
    // Deterministic from the seed, and another seed gives another subset of the same size.
    EXPECT_EQ(select_from_pools(labels, 0.4, balance, 11, choose_uniform, 1), got) << "thread count does not matter";
    std::vector<int64_t> other = select_from_pools(labels, 0.4, balance, 12, choose_uniform);
    EXPECT_EQ(other.size(), got.size());
    EXPECT_NE(other, got);
  }
  // Every sample is included with probability ~fraction over seeds.
  std::vector<int64_t> hits(labels.size(), 0);
  const int trials = 400;
  for (int s = 0; s < trials; ++s)
    for (int64_t p : select_from_pools(labels, 0.4, true, uint64_t(s), choose_uniform)) ++hits[size_t(p)];
  for (size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] == 3) continue;  // the 1-sample class has budget 0
    EXPECT_NEAR(double(hits[i]) / trials, 0.4, 0.12) << "sample " << i;
  }
  EXPECT_THROW(select_from_pools(labels, 0.0, true, 1, choose_uniform), Error);
}

TEST(CoresetSelect, ChoosersMustReturnTheirBudget) {
  std::vector<int64_t> labels = {0, 0, 1, 1};
  auto too_few = [](const Pool&, int64_t, uint64_t) { return std::vector<int64_t>{}; };
  auto foreign = [](const Pool& p, int64_t b, uint64_t) {
    return std::vector<int64_t>(size_t(b), p.label == 0 ? 2 : 0);  // positions of the other class
  };
  EXPECT_THROW(select_from_pools(labels, 0.5, true, 1, too_few), Error);
  EXPECT_THROW(select_from_pools(labels, 0.5, true, 1, foreign), Error);
}

TEST(CoresetSelect, TopScoresFirstWithSeededTies) {
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<double> scores = {0.5, inf, 2.0, 0.5, 0.5, -1.0, 0.5, 3.0};
  Pool all;
  for (int64_t i = 0; i < 8; ++i) all.positions.push_back(i);
  std::vector<int64_t> top = choose_top(scores, all, 3, 5);
  EXPECT_EQ(top, (std::vector<int64_t>{1, 7, 2}));  // +inf, then descending
  // Four tied at 0.5 compete for 2 places: each seed picks two of them, and over seeds all of them get picked.
  std::set<int64_t> seen;
  for (uint64_t seed = 0; seed < 40; ++seed) {
    std::vector<int64_t> t = choose_top(scores, all, 5, seed);
    ASSERT_EQ(t.size(), 5u);
    EXPECT_EQ(std::vector<int64_t>(t.begin(), t.begin() + 3), (std::vector<int64_t>{1, 7, 2}));
    for (size_t i = 3; i < 5; ++i) {
      EXPECT_EQ(scores[size_t(t[i])], 0.5);
      seen.insert(t[i]);
    }
    EXPECT_EQ(choose_top(scores, all, 5, seed), t) << "deterministic";
  }
  EXPECT_EQ(seen, (std::set<int64_t>{0, 3, 4, 6}));
  // A pool restricts the candidates.
  Pool some{0, {0, 5, 6}};
  std::vector<int64_t> t = choose_top(scores, some, 3, 1);
  EXPECT_EQ(t.back(), 5);
  scores[3] = std::nan("");
  EXPECT_THROW(choose_top(scores, all, 2, 1), Error);
}

TEST(CoresetSelect, ForgettingCountsRightToWrongTransitions) {
  // Hand-built sequences of correctness flags, one per presentation.
  const std::vector<std::vector<int>> seqs = {
      {1, 0, 1, 0},     // learned, forgotten twice
      {0, 0, 0, 0},     // never learned
      {0, 1, 1, 1},     // learned once, never forgotten
      {1, 1, 0, 0, 1},  // one event (consecutive wrongs count once)
      {0, 1, 0, 1, 0},  // two events
      {1},              // one presentation
      {},               // never presented
  };
  const std::vector<int64_t> events = {2, 0, 0, 1, 2, 0, 0};
  const double inf = std::numeric_limits<double>::infinity();
  const std::vector<double> scores = {2, inf, 0, 1, 2, 0, inf};
  ForgettingCounter fc(int64_t(seqs.size()));
  // Presentations interleaved across samples, as in epochs of shuffled batches.
  for (size_t step = 0; step < 5; ++step)
    for (size_t i = 0; i < seqs.size(); ++i)
      if (step < seqs[i].size()) fc.record(int64_t(i), seqs[i][step] != 0);
  for (size_t i = 0; i < seqs.size(); ++i) {
    EXPECT_EQ(fc.events(int64_t(i)), events[i]) << i;
    EXPECT_EQ(fc.presentations(int64_t(i)), int64_t(seqs[i].size())) << i;
  }
  EXPECT_EQ(fc.scores(), scores);
  EXPECT_THROW(fc.record(7, true), Error);

  // From logits: argmax == label.
  ForgettingCounter z(3);
  std::vector<int64_t> labels = {0, 1, 2};
  z.record_logits({0, 1, 2}, {3, 1, 0, /**/ 5, 1, 0, /**/ 0, 0, 9}, 3, labels);  // right, wrong, right
  z.record_logits({2, 0}, {9, 0, 0, /**/ 3, 1, 0}, 3, labels);                   // 2 wrong, 0 right
  EXPECT_EQ(z.events(2), 1);
  EXPECT_EQ(z.events(0), 0);
  EXPECT_FALSE(z.learned(1));
  EXPECT_TRUE(z.learned(2));
  EXPECT_THROW(z.record_logits({0}, {1, 2}, 3, labels), Error);
}
