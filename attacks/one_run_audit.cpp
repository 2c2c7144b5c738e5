// One-run privacy audit (see one_run_audit.h).
#include "attacks/one_run_audit.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>
#include <vector>

#include "attacks/beta_dist.h"
#include "kernels/error.h"

namespace sp::lira {
namespace {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();
// Sums stop once what is left is below e^-40 ~ 4e-18 of what was summed: invisible in a double.
constexpr double kLogNegligible = -40;

double log_add(double a, double b) {
  if (a < b) std::swap(a, b);
  if (b == kNegInf) return a;
  return a + std::log1p(std::exp(b - a));
}

// Binomial(r, q) with q = e^eps / (1 + e^eps) for a finite eps >= 0, in logarithms. log q and log(1 - q)
// come from log1p so that 1 - q keeps its precision when q is close to 1; and since log(q / (1 - q)) =
// eps exactly, neighbouring terms differ by the cheap log((r - k) / (k + 1)) + eps, so only the first
// term of a sum needs the full formula.
struct Binomial {
  int64_t r;
  double eps, log_q, log_1mq;
  Binomial(int64_t r_, double eps_) : r(r_), eps(eps_), log_q(-std::log1p(std::exp(-eps_))), log_1mq(log_q - eps_) {}

  double log_pmf(int64_t k) const { return log_binomial_pmf(r, k, log_q, log_1mq); }
  double log_ratio_up(int64_t k) const { return std::log(double(r - k) / double(k + 1)) + eps; }    // pmf(k+1)/pmf(k)
  double log_ratio_down(int64_t k) const { return std::log(double(k) / double(r - k + 1)) - eps; }  // pmf(k-1)/pmf(k)
  // pmf(k+1) < pmf(k) exactly when k + 1 > (r + 1) q.
  double mode_edge() const { return double(r + 1) * std::exp(log_q); }
};

// log of pmf(k) + pmf(k + step) + ... (step = +1 or -1) for a k on the far side of the mode, where the
// terms fall ever faster: once the ratio rho to the next term is below 1, everything left is at most
// term * rho / (1 - rho), which bounds the error of stopping.
double log_tail_from(const Binomial& b, int64_t k, int step) {
  double lt = b.log_pmf(k), ls = lt;
  while (step > 0 ? k < b.r : k > 0) {
    const double lrho = step > 0 ? b.log_ratio_up(k) : b.log_ratio_down(k);
    if (lrho < 0 && lt + lrho - std::log(-std::expm1(lrho)) < ls + kLogNegligible) break;
    lt += lrho;
    k += step;
    ls = log_add(ls, lt);
  }
  return ls;
}

// log P[B >= v], summing whichever tail falls away from the mode so that neither a long sum nor a
// subtraction from 1 of something close to 1 is needed.
double log_upper_tail(const Binomial& b, int64_t v) {
  if (v <= 0) return 0;
  if (double(v) >= b.mode_edge()) return log_tail_from(b, v, +1);
  // Here v - 1 is below the mode, so P[B <= v - 1] is at most about 1/2 and 1 - it loses nothing.
  return std::log1p(-std::exp(log_tail_from(b, v - 1, -1)));
}

// log alpha, alpha = max over i of (pmf(v-1) + ... + pmf(v-i)) / i, for v >= 1. The terms rise towards
// the mode and then fall, so the running average rises until the first term below it; from there every
// term is below the average and it only falls. Stopping there costs O(distance to the mode + a few
// standard deviations) terms instead of v.
double log_alpha(const Binomial& b, int64_t v) {
  int64_t k = v - 1;
  double lt = b.log_pmf(k), ls = lt, best = lt;  // best = log of the running average, its maximum so far
  for (int64_t i = 2; i <= v; ++i) {
    lt += b.log_ratio_down(k);
    --k;
    if (lt < best) break;
    ls = log_add(ls, lt);
    best = ls - std::log(double(i));
  }
  return best;
}

void check_counts(const char* fn, int64_t m, int64_t r, int64_t v) {
  SP_CHECK(v >= 0, fn, ": v (correct guesses) must be >= 0, got v=", v);
  SP_CHECK(v <= r, fn, ": v (correct guesses) must be <= r (guesses), got v=", v, " r=", r);
  SP_CHECK(r <= m, fn, ": r (guesses) must be <= m (canaries), got r=", r, " m=", m);
}

void check_delta(const char* fn, double delta) {
  SP_CHECK(delta >= 0 && delta <= 1, fn, ": delta must be in [0, 1], got delta=", delta);
}

// {1, 2, 5, 10, 20, 50, ...} below cap, then cap itself so that guessing on every canary is a candidate.
std::vector<int64_t> k_grid(int64_t cap) {
  std::vector<int64_t> ks;
  for (int64_t base = 1; base <= cap; base *= 10)
    for (int64_t mult : {1, 2, 5})
      if (mult * base < cap) ks.push_back(mult * base);
  if (cap >= 1) ks.push_back(cap);
  return ks;
}

}  // namespace

double one_run_p_value(int64_t m, int64_t r, int64_t v, double eps, double delta) {
  check_counts("one_run_p_value", m, r, v);
  SP_CHECK(eps >= 0, "one_run_p_value: eps must be >= 0, got eps=", eps);
  check_delta("one_run_p_value", delta);
  // v = 0 is always reached; at eps = inf, q = 1 and all r guesses are right.
  if (v == 0 || std::isinf(eps)) return 1;
  const Binomial b(r, eps);
  double p = std::exp(log_upper_tail(b, v));
  if (delta > 0) p += 2.0 * double(m) * delta * std::exp(log_alpha(b, v));
  return std::min(1.0, p);
}

double one_run_epsilon(int64_t m, int64_t r, int64_t v, double delta, double p_level) {
  check_counts("one_run_epsilon", m, r, v);
  check_delta("one_run_epsilon", delta);
  SP_CHECK(p_level > 0 && p_level < 1, "one_run_epsilon: p_level must be in (0, 1), got p_level=", p_level);
  auto rejected = [&](double eps) { return one_run_p_value(m, r, v, eps, delta) < p_level; };
  if (!rejected(0)) return 0;
  // The bracket ends by eps ~ 64 at the latest: there 1 - q ~ 1e-28, so p >= beta = 1 > p_level.
  double lo = 0, hi = 1;
  while (rejected(hi)) {
    lo = hi;
    hi *= 2;
  }
  while (hi - lo > 1e-10) {
    const double mid = 0.5 * (lo + hi);
    (rejected(mid) ? lo : hi) = mid;
  }
  return lo;  // rejected, so the bound errs low
}

OneRunResult one_run_audit(std::span<const double> scores, std::span<const uint8_t> member,
                           const OneRunOptions& opt) {
  SP_CHECK(scores.size() == member.size(), "one_run_audit: scores and member must have the same length, got ",
           scores.size(), " and ", member.size());
  check_delta("one_run_audit", opt.delta);
  SP_CHECK(opt.confidence > 0 && opt.confidence < 1, "one_run_audit: confidence must be in (0, 1), got confidence=",
           opt.confidence);
  std::vector<size_t> rank;
  for (size_t i = 0; i < scores.size(); ++i) {
    SP_CHECK(member[i] <= 1, "one_run_audit: member must be 0 or 1, got member[", i, "]=", int(member[i]));
    if (!std::isnan(scores[i])) rank.push_back(i);
  }
  // Stable, so ties stay in ascending index order.
  std::stable_sort(rank.begin(), rank.end(), [&](size_t a, size_t b) { return scores[a] > scores[b]; });
  const int64_t m = int64_t(rank.size());
  // members_in_top[j]: members among the j highest-ranked, so each candidate is scored in O(1).
  std::vector<int64_t> members_in_top(size_t(m) + 1, 0);
  for (int64_t j = 0; j < m; ++j) members_in_top[j + 1] = members_in_top[j] + member[rank[j]];
  auto correct = [&](int64_t k_pos, int64_t k_neg) {
    const int64_t members_in_bottom = members_in_top[m] - members_in_top[m - k_neg];
    return members_in_top[k_pos] + (k_neg - members_in_bottom);
  };

  std::vector<std::pair<int64_t, int64_t>> cands;
  if (opt.fixed_guess) {
    SP_CHECK(opt.k_pos >= 0 && opt.k_neg >= 0 && opt.k_pos + opt.k_neg <= m,
             "one_run_audit: fixed guess needs k_pos, k_neg >= 0 and k_pos + k_neg <= m (scored canaries), got k_pos=",
             opt.k_pos, " k_neg=", opt.k_neg, " m=", m);
    cands.emplace_back(opt.k_pos, opt.k_neg);
  } else {
    const std::vector<int64_t> ks = k_grid(m / 2);
    for (int64_t k : ks) cands.emplace_back(k, k);
    for (int64_t k : ks) cands.emplace_back(k, 0);
  }

  OneRunResult res;
  res.m = m;
  res.candidates = int64_t(cands.size());
  res.p_level = 1 - opt.confidence;
  res.delta = opt.delta;
  if (cands.empty()) return res;  // fewer than two scored canaries
  const double level = res.p_level / double(cands.size());
  for (size_t c = 0; c < cands.size(); ++c) {
    const auto [k_pos, k_neg] = cands[c];
    OneRunGuess g{k_pos, k_neg, k_pos + k_neg, correct(k_pos, k_neg), 0};
    g.epsilon = one_run_epsilon(m, g.r, g.v, opt.delta, level);
    if (c == 0 || g.epsilon > res.best.epsilon) res.best = g;
  }
  res.epsilon = res.best.epsilon;
  return res;
}

}  // namespace sp::lira
