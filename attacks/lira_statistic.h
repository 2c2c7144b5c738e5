// The per-query LiRA statistic from one logit row, in f64:
//   logit (default): phi = z_y - logsumexp_{j != y} z_j   (Carlini et al.'s "logit-scaled confidence")
//   hinge:           phi = z_y - max_{j != y} z_j
// Computed as (z_y - m) - log1p(sum_{j != y, j != argmax} exp(z_j - m)) with m = max_{j != y} z_j, which
// is accurate for any margin (no softmax, no probability floor, no overflow). Tested in
// tests/test_lira_statistic.cpp against worked examples and a long-double reference.
#pragma once
#include <cmath>
#include <cstdint>
#include <limits>
#include <string_view>

#include "kernels/error.h"

namespace sp::lira {

enum class Statistic { logit, hinge };

inline std::string_view statistic_name(Statistic s) { return s == Statistic::logit ? "logit" : "hinge"; }
inline Statistic statistic_from_name(std::string_view n) {
  if (n == "logit") return Statistic::logit;
  if (n == "hinge") return Statistic::hinge;
  SP_FAIL("unknown LiRA statistic '", n, "' (expected logit or hinge)");
}

// phi for the row z[0..C) (C >= 2, 0 <= y < C). Returns NaN when any logit is not finite, so the caller
// can apply its NaN policy with the offending index at hand.
template <class T>
inline double lira_statistic(const T* z, int64_t C, int64_t y, Statistic st) {
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
  // log1p is exact for small s; above 2^-10, log(1 + s) is as accurate in absolute terms and about
  // twice as fast, which matters for the tens of millions of rows of a benchmark-size experiment.
  return margin - (s < 0x1p-10 ? std::log1p(s) : std::log(1.0 + s));
}

}  // namespace sp::lira
