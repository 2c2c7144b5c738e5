// Incomplete beta, its inverse and Clopper-Pearson intervals (see beta_dist.h).
#include "attacks/beta_dist.h"

#include <algorithm>
#include <cmath>

#include "kernels/error.h"

namespace sp::lira {
namespace {

constexpr double kHalfLog2Pi = 0.91893853320467274178;

// lgamma(x) - [(x - 1/2) log x - x + log(2 pi)/2], the Stirling remainder, for x >= 10.
double stirling_remainder(double x) {
  double r = 1.0 / (x * x);
  return (1.0 / 12 - r * (1.0 / 360 - r * (1.0 / 1260 - r * (1.0 / 1680 - r * (1.0 / 1188 - r * (691.0 / 360360))))))/ x;
}

// The continued fraction of I_x(a, b) / (x^a (1-x)^b / (a B(a,b))), converging for x < (a+1)/(a+b+2).
double beta_cf(double a, double b, double x) {
  constexpr double kTiny = 1e-300, kEps = 1e-16;
  double f = kTiny, C = f, D = 0.0;
  for (int j = 1; j < 1000000; ++j) {
    double aj;
    if (j == 1) {
      aj = 1.0;
    } else {
      int k = j - 1;  // coefficient d_k
      int m = k / 2;
      aj = (k % 2) ? -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))
                   : m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m));
    }
    D = 1.0 + aj * D;
    if (std::abs(D) < kTiny) D = kTiny;
    C = 1.0 + aj / C;
    if (std::abs(C) < kTiny) C = kTiny;
    D = 1.0 / D;
    double delta = C * D;
    f *= delta;
    if (std::abs(delta - 1.0) < kEps) return f;
  }
  SP_FAIL("beta_inc: continued fraction did not converge for a=", a, " b=", b, " x=", x);
}

}  // namespace

double log_beta(double a, double b) {
  SP_CHECK(a > 0 && b > 0, "log_beta: parameters must be positive, got a=", a, " b=", b);
  if (a > b) std::swap(a, b);  // a <= b
  const double s = a + b;
  if (b < 10) return std::lgamma(a) + std::lgamma(b) - std::lgamma(s);
  // Large b: the (x - 1/2) log x - x parts of lgamma cancel analytically, leaving terms of size O(a log)
  // instead of differences of numbers of size b log b.
  double log_b_over_s = std::log1p(-a / s);
  if (a < 10)
    return std::lgamma(a) + (b - 0.5) * log_b_over_s - a * std::log(s) + a + stirling_remainder(b) -
           stirling_remainder(s);
  return kHalfLog2Pi + (a - 0.5) * std::log(a / s) + (b - 0.5) * log_b_over_s - 0.5 * std::log(s) +
         stirling_remainder(a) + stirling_remainder(b) - stirling_remainder(s);
}

namespace {

// I_x(a, b) (upper = false) or 1 - I_x(a, b) (upper = true), each computed without subtracting from 1
// on the side of the mean where it is small.
double beta_tail(double a, double b, double x, bool upper) {
  SP_CHECK(a > 0 && b > 0 && x >= 0 && x <= 1, "beta_inc: need a, b > 0 and 0 <= x <= 1, got a=", a, " b=", b, " x=", x);
  if (x == 0) return upper ? 1 : 0;
  if (x == 1) return upper ? 0 : 1;
  const double log_front = a * std::log(x) + b * std::log1p(-x) - log_beta(a, b);
  if (x < (a + 1) / (a + b + 2)) {
    double lower = std::exp(log_front - std::log(a)) * beta_cf(a, b, x);
    return upper ? 1.0 - lower : lower;
  }
  double up = std::exp(log_front - std::log(b)) * beta_cf(b, a, 1.0 - x);
  return upper ? up : 1.0 - up;
}

}  // namespace

double beta_inc(double a, double b, double x) { return beta_tail(a, b, x, false); }

double beta_inc_inv(double a, double b, double p) {
  SP_CHECK(a > 0 && b > 0 && p >= 0 && p <= 1, "beta_inc_inv: need a, b > 0 and 0 <= p <= 1, got a=", a, " b=", b,
           " p=", p);
  if (p == 0) return 0;
  if (p == 1) return 1;
  const double lb = log_beta(a, b);
  // Above the median, solve 1 - I_x = 1 - p (exact in floating point for p >= 1/2) so that a p close to
  // 1 keeps its precision; f is increasing in x either way.
  const bool upper = p > 0.5;
  const double q = 1.0 - p;
  double lo = 0, hi = 1, x = a / (a + b);
  for (int it = 0; it < 400; ++it) {
    double f = upper ? q - beta_tail(a, b, x, true) : beta_tail(a, b, x, false) - p;
    if (f == 0) return x;
    (f < 0 ? lo : hi) = x;
    double pdf = std::exp((a - 1) * std::log(x) + (b - 1) * std::log1p(-x) - lb);
    double nx = x - f / pdf;
    if (!(nx > lo && nx < hi)) nx = 0.5 * (lo + hi);  // Newton left the bracket: bisect
    if (std::abs(nx - x) <= 1e-15 * x || hi - lo <= 1e-15 * hi) return nx;
    x = nx;
  }
  return x;
}

Interval clopper_pearson(int64_t k, int64_t n, double alpha) {
  SP_CHECK(n >= 0 && k >= 0 && k <= n && alpha > 0 && alpha < 1, "clopper_pearson: need 0 <= k <= n and 0 < alpha < 1, got k=",
           k, " n=", n, " alpha=", alpha);
  if (n == 0) return {0.0, 1.0};
  const double t = alpha / 2;
  Interval r;
  // The k = 0 and k = n ends have closed forms: 1 - (alpha/2)^(1/n) and (alpha/2)^(1/n).
  r.lo = k == 0 ? 0.0 : k == n ? std::exp(std::log(t) / double(n)) : beta_inc_inv(double(k), double(n - k + 1), t);
  r.hi = k == n ? 1.0 : k == 0 ? -std::expm1(std::log(t) / double(n)) : beta_inc_inv(double(k + 1), double(n - k), 1 - t);
  return r;
}

}  // namespace sp::lira
