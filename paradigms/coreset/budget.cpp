// Pools, budgets and the uniform / top-score choosers (see budget.h). Tested in tests/test_coreset_select.cpp.
#include "paradigms/coreset/budget.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <thread>

#include "attacks/parallel.h"
#include "kernels/counter_rng.h"
#include "kernels/error.h"

namespace sp::coreset {

namespace {
constexpr uint64_t kPurposePool = 0x434f524553455450ULL;  // "CORESETP"
}  // namespace

std::vector<Pool> make_pools(const std::vector<int64_t>& labels, bool balance) {
  if (!balance) {
    Pool all;
    for (size_t i = 0; i < labels.size(); ++i) all.positions.push_back(int64_t(i));
    return {all};
  }
  std::map<int64_t, Pool> by_class;
  for (size_t i = 0; i < labels.size(); ++i) {
    Pool& p = by_class[labels[i]];
    p.label = labels[i];
    p.positions.push_back(int64_t(i));
  }
  std::vector<Pool> out;
  for (auto& [label, pool] : by_class) out.push_back(std::move(pool));
  return out;
}

int64_t pool_budget(int64_t n, double fraction) {
  return std::clamp<int64_t>(std::llround(fraction * double(n)), 0, n);
}

std::vector<int64_t> select_from_pools(const std::vector<int64_t>& labels, double fraction, bool balance,
                                       uint64_t seed, const PoolChooser& choose, int threads) {
  SP_CHECK(fraction > 0 && fraction <= 1, "coreset selection: fraction ", fraction, " must be in (0, 1]");
  const std::vector<Pool> pools = make_pools(labels, balance);
  std::vector<std::vector<int64_t>> chosen(pools.size());
  if (threads <= 0) threads = int(std::max(1u, std::thread::hardware_concurrency()));
  // Each pool's choice depends only on the pool and its own seed, so the result is the same for any thread
  // count.
  lira::parallel_tasks(int64_t(pools.size()), threads, [&](int64_t p, int) {
    const Pool& pool = pools[size_t(p)];
    const int64_t budget = pool_budget(int64_t(pool.positions.size()), fraction);
    std::vector<int64_t> got =
        choose(pool, budget, crng::mix64(crng::derive_key(seed, kPurposePool) + uint64_t(pool.label + 1)));
    std::sort(got.begin(), got.end());
    SP_CHECK(int64_t(got.size()) == budget && std::adjacent_find(got.begin(), got.end()) == got.end() &&
                 std::includes(pool.positions.begin(), pool.positions.end(), got.begin(), got.end()),
             "coreset selection: the chooser returned ", got.size(), " positions for a budget of ", budget,
             " (must be distinct members of the pool of class ", pool.label, ")");
    chosen[size_t(p)] = std::move(got);
  });
  std::vector<int64_t> out;
  for (const auto& v : chosen) out.insert(out.end(), v.begin(), v.end());
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<int64_t> choose_uniform(const Pool& pool, int64_t budget, uint64_t seed) {
  // A partial Fisher-Yates shuffle: the first `budget` entries are a uniform sample without replacement.
  std::vector<int64_t> v = pool.positions;
  crng::Stream32 rng(seed, 0);
  const int64_t n = int64_t(v.size());
  for (int64_t i = 0; i < budget && i < n; ++i) std::swap(v[size_t(i)], v[size_t(i + int64_t(rng.below64(uint64_t(n - i))))]);
  v.resize(size_t(std::min(budget, n)));
  return v;
}

std::vector<int64_t> choose_top(const std::vector<double>& scores, const Pool& pool, int64_t budget, uint64_t seed) {
  struct Entry {
    double score;
    uint64_t tie;
    int64_t pos;
  };
  std::vector<Entry> e;
  e.reserve(pool.positions.size());
  for (int64_t p : pool.positions) {
    SP_CHECK(p >= 0 && p < int64_t(scores.size()), "coreset selection: position ", p, " outside the ", scores.size(),
             " scores");
    double s = scores[size_t(p)];
    SP_CHECK(!std::isnan(s), "coreset selection: score of position ", p, " is NaN");
    e.push_back({s, crng::mix64(seed + uint64_t(p)), p});
  }
  budget = std::min<int64_t>(budget, int64_t(e.size()));
  auto higher = [](const Entry& a, const Entry& b) { return a.score != b.score ? a.score > b.score : a.tie < b.tie; };
  std::partial_sort(e.begin(), e.begin() + budget, e.end(), higher);
  std::vector<int64_t> out;
  for (int64_t i = 0; i < budget; ++i) out.push_back(e[size_t(i)].pos);
  return out;
}

}  // namespace sp::coreset
