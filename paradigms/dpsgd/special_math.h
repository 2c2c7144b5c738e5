// Log-space special functions for the privacy accountants: log-sum-exp with sign tracking, log erfc / log Phi
// that stay finite far in the tails, and log|C(alpha, i)| for real alpha. The accountants work in log space
// because the RDP moment A_alpha spans hundreds of orders of magnitude. erfc and lgamma come from the C++
// library; what is here is the log-space arithmetic around them, which Boost.Math does not offer (it has no
// log erfc: its erfc underflows near x = 26.5 like std::erfc).
// Tested by tests/test_accountant_math.cpp (against long-double erfcl, direct products and a naive sum).
#pragma once
#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <utility>

namespace sp::dpsgd {

inline constexpr double kNegInf = -std::numeric_limits<double>::infinity();
inline constexpr double kInf = std::numeric_limits<double>::infinity();

// log(e^a + e^b) without overflow.
inline double log_add(double a, double b) {
  if (a < b) std::swap(a, b);
  if (b == kNegInf) return a;
  return a + std::log1p(std::exp(b - a));
}

// log(1 + e^x), the softplus.
inline double log1p_exp(double x) { return x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x)); }

// log(e^x - 1) for x > 0; expm1 keeps tiny x exact, the second branch avoids overflow.
inline double log_expm1(double x) { return x < 1.0 ? std::log(std::expm1(x)) : x + std::log1p(-std::exp(-x)); }

// log erfc(x). std::erfc has full relative precision until it underflows near x = 26.5, so beyond x = 20 the
// asymptotic series erfc(x) = e^{-x^2}/(x sqrt(pi)) * sum_k (-1)^k (2k-1)!!/(2x^2)^k takes over (its terms
// shrink until k ~ x^2, so a dozen terms reach double precision). For x < 0, erfc(x) = 2 - erfc(-x) is formed
// through log1p so the small correction is not rounded away.
inline double log_erfc(double x) {
  if (x < 0) return std::numbers::ln2 + std::log1p(-0.5 * std::erfc(-x));
  if (x < 20) return std::log(std::erfc(x));
  const double inv = 1.0 / (2.0 * x * x);
  double term = 1.0, sum = 1.0;
  for (int k = 1; k < 60 && std::fabs(term) > 1e-18 * sum; ++k) {
    term *= -(2.0 * k - 1.0) * inv;
    sum += term;
  }
  return -x * x - std::log(x) - 0.5 * std::log(std::numbers::pi) + std::log(sum);
}

// log Phi(x), Phi the standard normal cdf. For x > 0 it is log1p of the small upper tail, so values near zero
// keep their relative precision (going through log_erfc would cancel ln 2 against ln 2).
inline double log_ndtr(double x) {
  if (x > 0) return std::log1p(-0.5 * std::erfc(x / std::numbers::sqrt2));
  return -std::numbers::ln2 + log_erfc(-x / std::numbers::sqrt2);
}

// Upper tail Q(x) = 1 - Phi(x) and lower tail Phi(x), each from one erfc call on the side where it is accurate.
struct NormalTails {
  double lower;  // Phi(x)
  double upper;  // 1 - Phi(x)
};
inline NormalTails normal_tails(double x) {
  if (x >= 0) {
    const double u = 0.5 * std::erfc(x / std::numbers::sqrt2);
    return {1.0 - u, u};
  }
  const double l = 0.5 * std::erfc(-x / std::numbers::sqrt2);
  return {l, 1.0 - l};
}
// P(a < Z <= b) for Z ~ N(0, 1), a <= b, taking the difference on the side of zero where it does not cancel.
inline double normal_interval(const NormalTails& a, double xa, const NormalTails& b, double xb) {
  if (xa >= 0) return a.upper - b.upper;
  if (xb <= 0) return b.lower - a.lower;
  return 1.0 - a.lower - b.upper;
}

// Sum of signed terms held as two log-space accumulators (positive and negative parts), so a series whose
// coefficients change sign (the generalised binomial) is summed without leaving log space.
struct SignedLogSum {
  double log_pos = kNegInf;
  double log_neg = kNegInf;
  void add(double log_abs, bool negative) {
    double& acc = negative ? log_neg : log_pos;
    acc = log_add(acc, log_abs);
  }
  // log of the (positive) total; NaN when the negative part is not smaller than the positive part.
  double log_value() const {
    if (log_neg == kNegInf) return log_pos;
    if (!(log_pos > log_neg)) return std::numeric_limits<double>::quiet_NaN();
    return log_pos + std::log1p(-std::exp(log_neg - log_pos));
  }
  // log of the magnitude of the running total (for relative stopping rules); -inf when it is zero.
  double log_abs_value() const {
    if (log_pos == log_neg) return kNegInf;
    const double hi = std::max(log_pos, log_neg), lo = std::min(log_pos, log_neg);
    return hi + std::log1p(-std::exp(lo - hi));
  }
};

// log|C(alpha, i)| and the sign of the generalised binomial coefficient prod_{k<i}(alpha - k) / i! for real
// alpha >= 0. For integer alpha and i > alpha it is zero (log_abs = -inf). For fractional alpha the factors
// alpha - k turn negative from k = floor(alpha) + 1 on, so the sign alternates after i = floor(alpha) + 1.
struct LogBinom {
  double log_abs;
  bool negative;
};
inline LogBinom log_binom(double alpha, long i) {
  const double fl = std::floor(alpha);
  if (alpha == fl && double(i) > alpha) return {kNegInf, false};
  const double log_abs = std::lgamma(alpha + 1.0) - std::lgamma(double(i) + 1.0) - std::lgamma(alpha - double(i) + 1.0);
  const long flips = i - 1 - long(fl);
  return {log_abs, flips > 0 && (flips % 2) == 1};
}

}  // namespace sp::dpsgd
