// Incomplete beta, its inverse, Clopper-Pearson intervals and the log binomial pmf over Boost.Math (see
// beta_dist.h). Boost's default policy throws on domain and evaluation errors; the checks here run first so
// the message names the function and its arguments, and any Boost error that still escapes is rethrown as
// sp::Error with the same context.
#include "attacks/beta_dist.h"

#include <boost/math/distributions/binomial.hpp>
#include <boost/math/special_functions/beta.hpp>
#include <boost/math/special_functions/gamma.hpp>
#include <cmath>
#include <exception>
#include <limits>

#include "kernels/error.h"

namespace sp::lira {
namespace {

template <class F>
double boost_call(const char* what, double a, double b, double x, F&& f) {
  try {
    return f();
  } catch (const std::exception& e) {
    SP_FAIL(what, "(", a, ", ", b, ", ", x, "): Boost.Math: ", e.what());
  }
}

}  // namespace

double beta_inc(double a, double b, double x) {
  SP_CHECK(a > 0 && b > 0 && x >= 0 && x <= 1, "beta_inc: need a, b > 0 and 0 <= x <= 1, got a=", a, " b=", b, " x=", x);
  return boost_call("beta_inc", a, b, x, [&] { return boost::math::ibeta(a, b, x); });
}

double beta_inc_inv(double a, double b, double p) {
  SP_CHECK(a > 0 && b > 0 && p >= 0 && p <= 1, "beta_inc_inv: need a, b > 0 and 0 <= p <= 1, got a=", a, " b=", b,
           " p=", p);
  if (p == 0) return 0;
  if (p == 1) return 1;
  // Above the median, invert the complement 1 - I_x = 1 - p (exact in floating point for p >= 1/2), so a p
  // close to 1 keeps its precision.
  return boost_call("beta_inc_inv", a, b, p, [&] {
    return p > 0.5 ? boost::math::ibetac_inv(a, b, 1.0 - p) : boost::math::ibeta_inv(a, b, p);
  });
}

Interval clopper_pearson(int64_t k, int64_t n, double alpha) {
  SP_CHECK(n >= 0 && k >= 0 && k <= n && alpha > 0 && alpha < 1,
           "clopper_pearson: need 0 <= k <= n and 0 < alpha < 1, got k=", k, " n=", n, " alpha=", alpha);
  if (n == 0) return {0.0, 1.0};
  using boost::math::binomial_distribution;
  const double t = alpha / 2, nn = double(n), kk = double(k);
  Interval r;
  // Boost's bounds are the exact (Clopper-Pearson) ones by default; each is the one-sided bound at alpha/2.
  r.lo = boost_call("clopper_pearson", kk, nn, alpha,
                    [&] { return binomial_distribution<>::find_lower_bound_on_p(nn, kk, t); });
  r.hi = boost_call("clopper_pearson", kk, nn, alpha,
                    [&] { return binomial_distribution<>::find_upper_bound_on_p(nn, kk, t); });
  return r;
}

double log_binomial_pmf(int64_t r, int64_t k, double log_q, double log_1mq) {
  SP_CHECK(r >= 0 && k >= 0 && k <= r && log_q <= 0 && log_1mq <= 0, "log_binomial_pmf: need 0 <= k <= r and log "
           "probabilities <= 0, got r=", r, " k=", k, " log q=", log_q, " log(1-q)=", log_1mq);
  if (r == 0) return 0;
  // pmf(k) = ibeta_derivative(k + 1, r - k + 1, q) / (r + 1). Boost evaluates it to full relative precision
  // when given the smaller of q and 1 - q (the other is then formed without cancellation), so use the mirror
  // pmf(k; r, q) = pmf(r - k; r, 1 - q) when q > 1/2.
  const bool mirror = log_q > log_1mq;
  const double x = std::exp(mirror ? log_1mq : log_q);
  const double a = double(mirror ? r - k : k) + 1, b = double(mirror ? k : r - k) + 1;
  const double d = boost_call("log_binomial_pmf", a, b, x, [&] { return boost::math::ibeta_derivative(a, b, x); });
  if (d > std::numeric_limits<double>::min()) return std::log(d) - std::log(double(r + 1));
  // Below the smallest normal double (x may even have underflowed to 0): the log from log-gamma terms. It
  // loses ~1e-9 relative accuracy for r in the millions, on a probability under 1e-308, which no caller
  // can tell from 0.
  const double log_choose = boost::math::lgamma(double(r) + 1) - boost::math::lgamma(double(k) + 1) -
                            boost::math::lgamma(double(r - k) + 1);
  const double lq = double(k) == 0 ? 0.0 : double(k) * log_q, l1 = r - k == 0 ? 0.0 : double(r - k) * log_1mq;
  return log_choose + lq + l1;
}

}  // namespace sp::lira
