// Herding and k-Center Greedy against brute force on tiny random inputs: herding's incremental sums against
// recomputing ||mean - mean(chosen + x)|| for every candidate at every step; k-center's incremental nearest
// distances against recomputing every candidate's distance to every centre, plus the 2-approximation of the
// optimal k-center radius found by enumerating all subsets; pools restrict both; bad input throws.
#include <cmath>
#include <limits>

#include "kernels/counter_rng.h"
#include "paradigms/coreset/geometry.h"
#include "tests/test_util.h"

using namespace sp;
using namespace sp::coreset;

namespace {

std::vector<float> random_features(int64_t n, int64_t F, uint64_t seed) {
  crng::Stream32 r(seed, 3);
  std::vector<float> v(size_t(n * F));
  for (float& x : v) x = r.uniform(-1.0f, 1.0f);
  return v;
}

double dist2(const std::vector<float>& X, int64_t F, int64_t a, int64_t b) {
  double s = 0;
  for (int64_t f = 0; f < F; ++f) s += std::pow(double(X[size_t(a * F + f)]) - double(X[size_t(b * F + f)]), 2);
  return s;
}

std::vector<int64_t> brute_herding(const std::vector<float>& X, int64_t F, const std::vector<int64_t>& pool, int64_t k) {
  std::vector<double> mean(size_t(F), 0);
  for (int64_t p : pool)
    for (int64_t f = 0; f < F; ++f) mean[size_t(f)] += X[size_t(p * F + f)] / double(pool.size());
  std::vector<int64_t> chosen;
  for (int64_t t = 0; t < k; ++t) {
    double best = std::numeric_limits<double>::infinity();
    int64_t arg = -1;
    for (int64_t x : pool) {
      if (std::find(chosen.begin(), chosen.end(), x) != chosen.end()) continue;
      std::vector<int64_t> with = chosen;
      with.push_back(x);
      double d = 0;
      for (int64_t f = 0; f < F; ++f) {
        double m = 0;
        for (int64_t c : with) m += X[size_t(c * F + f)];
        d += std::pow(mean[size_t(f)] - m / double(with.size()), 2);
      }
      if (d < best) best = d, arg = x;
    }
    chosen.push_back(arg);
  }
  return chosen;
}

// Greedy k-center from a given first centre, recomputing everything each step.
std::vector<int64_t> brute_kcenter(const std::vector<float>& X, int64_t F, const std::vector<int64_t>& pool, int64_t k,
                                   int64_t first) {
  std::vector<int64_t> centres = {first};
  while (int64_t(centres.size()) < k) {
    double far = -1;
    int64_t arg = -1;
    for (int64_t x : pool) {
      if (std::find(centres.begin(), centres.end(), x) != centres.end()) continue;
      double near = std::numeric_limits<double>::infinity();
      for (int64_t c : centres) near = std::min(near, dist2(X, F, x, c));
      if (near > far) far = near, arg = x;
    }
    centres.push_back(arg);
  }
  return centres;
}

double cover_radius2(const std::vector<float>& X, int64_t F, const std::vector<int64_t>& pool,
                     const std::vector<int64_t>& centres) {
  double r = 0;
  for (int64_t x : pool) {
    double near = std::numeric_limits<double>::infinity();
    for (int64_t c : centres) near = std::min(near, dist2(X, F, x, c));
    r = std::max(r, near);
  }
  return r;
}

}  // namespace

TEST(CoresetGeometry, HerdingMatchesBruteForce) {
  for (uint64_t seed = 0; seed < 6; ++seed) {
    const int64_t n = 12, F = 3;
    std::vector<float> X = random_features(n, F, seed);
    Pool pool{0, {}};
    for (int64_t i = 0; i < n; ++i)
      if (i % 4 != 1) pool.positions.push_back(i);  // a pool that skips some rows
    for (int64_t k : {1, 4, 9}) {
      std::vector<int64_t> got = herding(X, F, pool, k);
      EXPECT_EQ(got, brute_herding(X, F, pool.positions, k)) << "seed " << seed << " k " << k;
    }
  }
  // The first choice is the sample nearest the mean; the whole pool when the budget covers it.
  std::vector<float> line = {0, 1, 2, 3, 10};  // mean 3.2
  Pool all{-1, {0, 1, 2, 3, 4}};
  EXPECT_EQ(herding(line, 1, all, 1), (std::vector<int64_t>{3}));
  std::vector<int64_t> everything = herding(line, 1, all, 5);
  std::sort(everything.begin(), everything.end());
  EXPECT_EQ(everything, all.positions);
}

TEST(CoresetGeometry, KCenterMatchesBruteForceAndIsATwoApproximation) {
  for (uint64_t seed = 0; seed < 6; ++seed) {
    const int64_t n = 11, F = 2;
    std::vector<float> X = random_features(n, F, seed + 100);
    Pool pool{3, {}};
    for (int64_t i = 0; i < n; ++i) pool.positions.push_back(i);
    for (int64_t k : {1, 3, 5}) {
      std::vector<int64_t> got = kcenter_greedy(X, F, pool, k, seed);
      ASSERT_EQ(int64_t(got.size()), k);
      EXPECT_EQ(got, brute_kcenter(X, F, pool.positions, k, got[0])) << "seed " << seed << " k " << k;
      EXPECT_EQ(kcenter_greedy(X, F, pool, k, seed), got) << "deterministic from the seed";
      // Optimal radius over all k-subsets; greedy's radius is at most twice it (4x in squared distance).
      double best = std::numeric_limits<double>::infinity();
      for (uint32_t mask = 0; mask < (1u << n); ++mask) {
        if (__builtin_popcount(mask) != k) continue;
        std::vector<int64_t> c;
        for (int64_t i = 0; i < n; ++i)
          if (mask >> i & 1u) c.push_back(i);
        best = std::min(best, cover_radius2(X, F, pool.positions, c));
      }
      EXPECT_LE(cover_radius2(X, F, pool.positions, got), 4 * best + 1e-9);
    }
  }
  // Different seeds start from different centres.
  std::vector<float> X = random_features(40, 2, 9);
  Pool pool{0, {}};
  for (int64_t i = 0; i < 40; ++i) pool.positions.push_back(i);
  std::set<int64_t> firsts;
  for (uint64_t s = 0; s < 10; ++s) firsts.insert(kcenter_greedy(X, 2, pool, 1, s)[0]);
  EXPECT_GT(firsts.size(), 3u);
}

TEST(CoresetGeometry, BadInputThrows) {
  std::vector<float> X = {0, 1, 2, 3};
  EXPECT_THROW(herding(X, 3, Pool{0, {0}}, 1), Error);     // 4 values are not rows of 3
  EXPECT_THROW(kcenter_greedy(X, 2, Pool{0, {5}}, 1, 0), Error);  // position outside the rows
}
