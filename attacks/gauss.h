// Gaussian log-density and log-CDF in f64. log_ndtr stays accurate in both tails: erfc for moderate z,
// log1p for the upper tail, and the asymptotic series of the Mills ratio below z = -20, where erfc
// underflows soon after. Tested in tests/test_lira_stats.cpp (known values, tail continuity).
#pragma once
#include <cmath>

namespace sp::lira {

inline constexpr double kHalfLog2Pi = 0.91893853320467274178;  // log(2 pi) / 2

inline double log_normal_pdf(double x, double mu, double sigma) {
  double u = (x - mu) / sigma;
  return -0.5 * u * u - std::log(sigma) - kHalfLog2Pi;
}

// log Phi(z), Phi the standard normal CDF.
inline double log_ndtr(double z) {
  constexpr double kInvSqrt2 = 0.70710678118654752440;
  if (z > 6.0) return std::log1p(-0.5 * std::erfc(z * kInvSqrt2));
  if (z > -20.0) return std::log(0.5 * std::erfc(-z * kInvSqrt2));
  if (std::isnan(z)) return z;
  // Phi(z) = phi(z)/(-z) * (1 - 1/z^2 + 3/z^4 - 15/z^6 + ...); for z <= -20 ten terms leave < 1e-17.
  double r = 1.0 / (z * z), term = 1.0, sum = 1.0;
  for (int k = 1; k <= 10; ++k) {
    term *= -(2.0 * k - 1.0) * r;
    sum += term;
  }
  return -0.5 * z * z - std::log(-z) - kHalfLog2Pi + std::log(sum);
}

}  // namespace sp::lira
