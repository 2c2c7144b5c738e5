// Budgets and the two generic choosers every coreset method ends with. A selection splits the private set
// into pools (one per class when balanced, DeepCore's default; else one pool of everything), gives each pool
// the budget round(fraction * pool size), and picks that many positions from it: uniformly at random
// (method "uniform", the paper's Random baseline), or by the highest score (forgetting, el2n, grand,
// uncertainty) with ties broken in a seeded random order, so equal scores (e.g. many samples with zero
// forgetting events) do not favour low indices. Positions are indices into the private set. Deterministic
// from the seed. Tested in tests/test_coreset_select.cpp.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

namespace sp::coreset {

struct Pool {
  int64_t label = -1;              // the class of a balanced pool; -1 for the single unbalanced pool
  std::vector<int64_t> positions;  // ascending
};

// The pools of a set with these labels (classes in ascending order).
std::vector<Pool> make_pools(const std::vector<int64_t>& labels, bool balance);

// round(fraction * n), at most n.
int64_t pool_budget(int64_t n, double fraction);

// Chooser of a pool: the positions to keep, given its budget and a seed of its own.
using PoolChooser = std::function<std::vector<int64_t>(const Pool& pool, int64_t budget, uint64_t seed)>;

// Runs `choose` on every pool (each with its budget and a seed derived from `seed` and the pool's class; pools
// in parallel on `threads` threads, 0: all cores) and returns the union, ascending. Checks that every chooser
// returned `budget` distinct positions of its pool.
std::vector<int64_t> select_from_pools(const std::vector<int64_t>& labels, double fraction, bool balance,
                                       uint64_t seed, const PoolChooser& choose, int threads = 0);

// `budget` positions of the pool uniformly at random (seeded), in no particular order.
std::vector<int64_t> choose_uniform(const Pool& pool, int64_t budget, uint64_t seed);

// The `budget` positions of the pool with the highest scores[position]; ties in a seeded random order.
// +inf counts as the highest score; NaN scores are an error.
std::vector<int64_t> choose_top(const std::vector<double>& scores, const Pool& pool, int64_t budget, uint64_t seed);

}  // namespace sp::coreset
