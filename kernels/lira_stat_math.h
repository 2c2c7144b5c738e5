// The per-query LiRA statistic from one logit row, in f64, written once for the host tools (attacks/,
// sp_lira) and both backends of the fused kernel (kernels/lira_stat.h):
//   logit (default): phi = z_y - logsumexp_{j != y} z_j   (Carlini et al.'s "logit-scaled confidence")
//   hinge:           phi = z_y - max_{j != y} z_j
// Computed as (z_y - m) - log1p(sum_{j != y, j != argmax} exp(z_j - m)) with m = max_{j != y} z_j, which
// is exact for any margin (no softmax, no probability floor, no overflow). Tested in
// tests/test_lira_stats.cpp (worked examples, long-double reference) and tests/test_lira_stat_kernel.cpp.
#pragma once
#include <cmath>
#include <cstdint>
#include <limits>

#include "kernels/hd.h"

namespace sp::lira {

enum class Statistic { logit, hinge };

// phi for the row z[0..C) (C >= 2). Returns NaN when y is outside [0, C) or any logit is not finite, so the
// caller can apply its NaN policy with the offending index at hand (a GPU kernel cannot throw).
template <class T>
SP_HD double lira_statistic(const T* z, int64_t C, int64_t y, Statistic st) {
  if (y < 0 || y >= C) return std::numeric_limits<double>::quiet_NaN();
  double m = -std::numeric_limits<double>::infinity();
  int64_t jm = -1;
  bool finite = std::isfinite(double(z[y]));
  for (int64_t j = 0; j < C; ++j) {
    double v = double(z[j]);
    finite = finite && std::isfinite(v);
    if (j != y && (jm < 0 || v > m)) {
      m = v;
      jm = j;
    }
  }
  if (!finite) return std::numeric_limits<double>::quiet_NaN();
  double margin = double(z[y]) - m;
  if (st == Statistic::hinge) return margin;
  double s = 0.0;
  for (int64_t j = 0; j < C; ++j)
    if (j != y && j != jm) s += std::exp(double(z[j]) - m);
  return margin - std::log1p(s);
}

}  // namespace sp::lira
