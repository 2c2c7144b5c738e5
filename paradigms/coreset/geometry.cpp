// Herding and k-Center Greedy (see geometry.h). Tested in tests/test_coreset_geometry.cpp.
#include "paradigms/coreset/geometry.h"

#include <limits>

#include "kernels/counter_rng.h"
#include "kernels/error.h"

namespace sp::coreset {

namespace {

void check_features(const std::vector<float>& features, int64_t F, const Pool& pool, const char* who) {
  SP_CHECK(F > 0 && features.size() % size_t(F) == 0, who, ": ", features.size(), " feature values for F = ", F);
  const int64_t n = int64_t(features.size()) / F;
  for (int64_t p : pool.positions) SP_CHECK(p >= 0 && p < n, who, ": position ", p, " outside ", n, " feature rows");
}

double sq_dist(const float* a, const float* b, int64_t F) {
  double s = 0;
  for (int64_t f = 0; f < F; ++f) {
    double d = double(a[f]) - double(b[f]);
    s += d * d;
  }
  return s;
}

}  // namespace

std::vector<int64_t> herding(const std::vector<float>& features, int64_t F, const Pool& pool, int64_t budget) {
  check_features(features, F, pool, "herding");
  const size_t m = pool.positions.size();
  std::vector<double> mean(size_t(F), 0.0), sum(size_t(F), 0.0);
  for (int64_t p : pool.positions)
    for (int64_t f = 0; f < F; ++f) mean[size_t(f)] += double(features[size_t(p * F + f)]) / double(m);
  std::vector<uint8_t> taken(m, 0);
  std::vector<int64_t> out;
  for (int64_t t = 0; t < budget && t < int64_t(m); ++t) {
    // argmin over candidates x of || mean - (sum + x) / (t + 1) ||^2.
    double best = std::numeric_limits<double>::infinity();
    size_t arg = m;
    for (size_t j = 0; j < m; ++j) {
      if (taken[j]) continue;
      const float* x = &features[size_t(pool.positions[j] * F)];
      double d = 0;
      for (int64_t f = 0; f < F; ++f) {
        double e = mean[size_t(f)] - (sum[size_t(f)] + double(x[f])) / double(t + 1);
        d += e * e;
      }
      if (d < best) best = d, arg = j;
    }
    taken[arg] = 1;
    const float* x = &features[size_t(pool.positions[arg] * F)];
    for (int64_t f = 0; f < F; ++f) sum[size_t(f)] += double(x[f]);
    out.push_back(pool.positions[arg]);
  }
  return out;
}

std::vector<int64_t> kcenter_greedy(const std::vector<float>& features, int64_t F, const Pool& pool, int64_t budget,
                                    uint64_t seed) {
  check_features(features, F, pool, "kcenter");
  const size_t m = pool.positions.size();
  std::vector<int64_t> out;
  if (budget <= 0 || m == 0) return out;
  crng::Stream32 rng(seed, 1);
  size_t next = size_t(rng.below64(m));
  // nearest[j]: squared distance of candidate j to its nearest chosen centre (-1 once chosen).
  std::vector<double> nearest(m, std::numeric_limits<double>::infinity());
  for (int64_t t = 0; t < budget && t < int64_t(m); ++t) {
    nearest[next] = -1;
    out.push_back(pool.positions[next]);
    const float* c = &features[size_t(pool.positions[next] * F)];
    size_t far = m;
    double far_d = -1;
    for (size_t j = 0; j < m; ++j) {
      if (nearest[j] < 0) continue;
      nearest[j] = std::min(nearest[j], sq_dist(&features[size_t(pool.positions[j] * F)], c, F));
      if (nearest[j] > far_d) far_d = nearest[j], far = j;
    }
    next = far;
    if (far == m) break;
  }
  return out;
}

}  // namespace sp::coreset
