// RDP of the Poisson-subsampled Gaussian in log space, composition, and the RDP -> (epsilon, delta)
// conversion. See rdp_accountant.h; formulas follow Mironov, Talwar, Zhang 2019 (arXiv 1908.10530) §3.3.
// Tested by tests/test_accountant_rdp.cpp.
#include "paradigms/dpsgd/rdp_accountant.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <sstream>

#include "paradigms/dpsgd/special_math.h"

namespace sp::dpsgd {

std::vector<double> default_rdp_orders() {
  std::vector<double> orders;
  for (int x = 1; x < 100; ++x) orders.push_back(1.0 + x / 10.0);
  for (int a = 12; a < 64; ++a) orders.push_back(double(a));
  return orders;
}

namespace detail {

double log_a_integer(double q, double sigma, long alpha) {
  // A - 1 = sum_{i>=2} C(alpha,i) q^i (1-q)^(alpha-i) (e^{(i^2-i)/(2 sigma^2)} - 1): the i = 0, 1 terms and the
  // "-1" cancel exactly because the binomial weights sum to one, and every remaining term is positive.
  const double log_q = std::log(q), log_1mq = std::log1p(-q), two_s2 = 2.0 * sigma * sigma;
  double log_am1 = kNegInf;
  for (long i = 2; i <= alpha; ++i) {
    const double di = double(i);
    const double log_term = log_binom(double(alpha), i).log_abs + di * log_q + double(alpha - i) * log_1mq +
                            log_expm1((di * di - di) / two_s2);
    log_am1 = log_add(log_am1, log_term);
  }
  return log1p_exp(log_am1);
}

namespace {

constexpr long kMaxTerms = 10'000'000;

// The pieces shared by both fractional-order series at index i (j = alpha - i): log|C(alpha, i)| and its sign
// by the ratio (alpha - i)/(i + 1) (cheaper than three lgamma calls per term, exact enough for the leading
// terms, and exactly zero past i = alpha for integer alpha).
struct BinomialWalk {
  double alpha;
  double log_c = 0.0;
  bool negative = false;
  void next(long i) {
    const double ratio = (alpha - double(i)) / (double(i) + 1.0);
    log_c += std::log(std::fabs(ratio));
    if (ratio < 0) negative = !negative;
  }
};

struct SeriesSetup {
  double log_q, log_1mq, two_s2, sqrt2_s, z0;
  long alternating_from;
};
SeriesSetup setup(double q, double sigma, double alpha) {
  SeriesSetup s;
  s.log_q = std::log(q);
  s.log_1mq = std::log1p(-q);
  s.two_s2 = 2.0 * sigma * sigma;
  s.sqrt2_s = std::numbers::sqrt2 * sigma;
  // z0 splits the integral where q*mu1 = (1-q)*mu0.
  s.z0 = sigma * sigma * (s.log_1mq - s.log_q) + 0.5;
  // Past i = floor(alpha) + 1 the coefficients alternate in sign. Every sub-series below then has terms that
  // shrink monotonically in i (|C(alpha,i)| decreases for i > alpha; the Gaussian hazard exceeds its argument),
  // so each sub-series' tail is smaller than its first omitted term.
  s.alternating_from = long(std::floor(alpha)) + 2;
  return s;
}

// log of the second-series term q^(alpha-i) (1-q)^i e^{(j^2-j)/(2s^2)} erfc((z0-j)/(sqrt2 s))/2, without C.
double log_second(const SeriesSetup& s, double di, double j) {
  return j * s.log_q + di * s.log_1mq + (j * j - j) / s.two_s2 - std::numbers::ln2 + log_erfc((s.z0 - j) / s.sqrt2_s);
}

}  // namespace

// A itself: sum_i C(alpha,i) [ q^i (1-q)^(alpha-i) e^{(i^2-i)/(2s^2)} erfc((i-z0)/(sqrt2 s))/2 + second term ].
double log_a_series_direct(double q, double sigma, double alpha, long* terms) {
  const SeriesSetup s = setup(q, sigma, alpha);
  // Stopping with half of the next term added leaves an error below half its size (the tail lies between 0
  // and that term); stop once that is 36 nats (2e-16, the precision of A itself) below the running total.
  constexpr double kStopNats = 36.0;
  SignedLogSum sum;
  BinomialWalk c{alpha};
  for (long i = 0; i < kMaxTerms; ++i) {
    const double di = double(i), j = alpha - di;
    const double log_s0 = c.log_c + di * s.log_q + j * s.log_1mq + (di * di - di) / s.two_s2 - std::numbers::ln2 +
                          log_erfc((di - s.z0) / s.sqrt2_s);
    const double log_pair = log_add(log_s0, c.log_c + log_second(s, di, j));
    if (i >= s.alternating_from && (log_pair == kNegInf || log_pair < sum.log_abs_value() - kStopNats)) {
      sum.add(log_pair - std::numbers::ln2, c.negative);
      if (terms) *terms = i + 1;
      return sum.log_value();
    }
    sum.add(log_pair, c.negative);
    c.next(i);
  }
  SP_FAIL("rdp: the fractional-order series for alpha=", alpha, " q=", q, " sigma=", sigma, " did not converge in ",
          kMaxTerms, " terms");
}

// A - 1 for q < 1/2, so that tiny q (A = 1 + O(q^2)) keeps its relative precision. Writing
// 1 = sum_i C(alpha,i) q^i (1-q)^(alpha-i) (the binomial series, convergent for q < 1/2) and pairing it with
// the first series term by term gives
//   A - 1 = sum_i C(alpha,i) q^i (1-q)^(alpha-i) (e^{(i^2-i)/(2s^2)} P_i - 1) + second series,
// with P_i = Phi((z0 - i)/s); the bracket is expm1((i^2-i)/(2s^2) + log P_i), exact for i = 0, 1 where it is
// the tiny -(1 - P_i).
double log_a_series_small_q(double q, double sigma, double alpha, long* terms) {
  const SeriesSetup s = setup(q, sigma, alpha);
  // Three alternating sub-series (first term, binomial "1", second term): the tail is below the sum of their
  // first omitted terms, at most 3x the largest; stop when that is 30 nats (1e-13) below the running A - 1,
  // which bounds the relative error of log A by 1e-13 as well (log A <= A - 1).
  constexpr double kStopNats = 30.0 + 1.1;
  SignedLogSum sum;
  BinomialWalk c{alpha};
  for (long i = 0; i < kMaxTerms; ++i) {
    const double di = double(i), j = alpha - di;
    const double log_binomial = c.log_c + di * s.log_q + j * s.log_1mq;
    const double y = (di * di - di) / s.two_s2 + log_ndtr((s.z0 - di) / sigma);
    const double log_bracket = y > 0 ? log_expm1(y) : (y < 0 ? std::log(-std::expm1(y)) : kNegInf);
    const double log_first = log_binomial + log_bracket;
    const double log_second_term = c.log_c + log_second(s, di, j);
    const double log_largest = std::max({log_binomial + y, log_binomial, log_second_term});
    if (i >= s.alternating_from &&
        (log_largest == kNegInf || log_largest < sum.log_abs_value() - kStopNats)) {
      if (terms) *terms = i;
      const double log_am1 = sum.log_value();
      SP_CHECK(std::isfinite(log_am1), "rdp: A - 1 for alpha=", alpha, " q=", q, " sigma=", sigma,
               " came out non-positive (log = ", log_am1, ")");
      return log1p_exp(log_am1);
    }
    sum.add(log_first, c.negative != (y < 0));
    sum.add(log_second_term, c.negative);
    c.next(i);
  }
  SP_FAIL("rdp: the fractional-order series for alpha=", alpha, " q=", q, " sigma=", sigma, " did not converge in ",
          kMaxTerms, " terms");
}

double log_a_fractional(double q, double sigma, double alpha, long* terms) {
  // The A - 1 form needs about as many terms as the direct sum but keeps relative precision when A - 1 is
  // small (tiny q or large sigma); its binomial sub-series decays like (q/(1-q))^i, too slowly near q = 1/2.
  const double log_a = q <= 0.4 ? log_a_series_small_q(q, sigma, alpha, terms)
                                : log_a_series_direct(q, sigma, alpha, terms);
  SP_CHECK(std::isfinite(log_a), "rdp: the fractional-order series for alpha=", alpha, " q=", q, " sigma=", sigma,
           " lost its sign (log A = ", log_a, ")");
  return log_a;
}

}  // namespace detail

double rdp_poisson_gaussian(double q, double sigma, double alpha) {
  SP_CHECK(q >= 0 && q <= 1, "rdp_poisson_gaussian: sample rate q must be in [0, 1], got ", q);
  SP_CHECK(sigma >= 0, "rdp_poisson_gaussian: noise multiplier must be >= 0, got ", sigma);
  SP_CHECK(alpha > 1, "rdp_poisson_gaussian: order alpha must be > 1, got ", alpha);
  if (q == 0) return 0.0;
  if (sigma == 0 || std::isinf(alpha)) return kInf;
  if (q == 1) return alpha / (2.0 * sigma * sigma);
  const double log_a = alpha == std::floor(alpha) && alpha < 1e9 ? detail::log_a_integer(q, sigma, long(alpha))
                                                                 : detail::log_a_fractional(q, sigma, alpha);
  return log_a / (alpha - 1.0);
}

std::vector<double> rdp_curve(const std::vector<SubsampledGaussian>& groups, const std::vector<double>& orders) {
  std::vector<double> rdp(orders.size(), 0.0);
  for (const auto& g : groups)
    for (size_t k = 0; k < orders.size(); ++k)
      rdp[k] += double(g.steps) * rdp_poisson_gaussian(g.sample_rate, g.noise_multiplier, orders[k]);
  return rdp;
}

RdpEpsilon rdp_to_epsilon(const std::vector<double>& orders, const std::vector<double>& rdp, double delta) {
  SP_CHECK(orders.size() == rdp.size() && !orders.empty(), "rdp_to_epsilon: ", orders.size(), " orders but ",
           rdp.size(), " RDP values");
  check_delta("rdp_to_epsilon", delta);
  RdpEpsilon best;
  best.epsilon = kInf;
  best.best_order = std::numeric_limits<double>::quiet_NaN();
  const double log_delta = std::log(delta);
  for (size_t k = 0; k < orders.size(); ++k) {
    const double a = orders[k];
    SP_CHECK(a > 1, "rdp_to_epsilon: order ", k, " is ", a, ", orders must be > 1");
    if (!std::isfinite(rdp[k])) continue;
    const double eps = rdp[k] + std::log1p(-1.0 / a) - (log_delta + std::log(a)) / (a - 1.0);
    if (eps < best.epsilon) {
      best.epsilon = eps;
      best.best_order = a;
      best.best_index = k;
    }
  }
  if (!std::isfinite(best.epsilon)) return best;
  // A negative bound still certifies (0, delta)-DP, the strongest statement epsilon can make.
  best.epsilon = std::max(best.epsilon, 0.0);
  if (orders.size() > 1 && (best.best_index == 0 || best.best_index + 1 == orders.size())) {
    best.at_grid_edge = true;
    std::ostringstream os;
    os << "the optimal RDP order " << best.best_order << " is the " << (best.best_index == 0 ? "smallest" : "largest")
       << " of the grid; epsilon may be loose, extend the orders " << (best.best_index == 0 ? "downward" : "upward");
    best.warning = os.str();
  }
  return best;
}

RdpEpsilon rdp_epsilon(const std::vector<SubsampledGaussian>& groups, double delta,
                       const std::vector<double>& orders) {
  check_mechanisms("rdp_epsilon", groups);
  check_delta("rdp_epsilon", delta);
  return rdp_to_epsilon(orders, rdp_curve(groups, orders), delta);
}

}  // namespace sp::dpsgd
