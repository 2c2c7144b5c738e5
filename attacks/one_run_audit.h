// The one-run privacy audit: an epsilon lower bound from m canaries, each included in a single training
// run independently with probability 1/2, and an auditor that guesses IN or OUT for r of them and
// abstains on the rest, v of the r guesses being right (Steinke, Nasr, Jagielski, "Privacy Auditing with
// One (1) Training Run", NeurIPS 2023: the p-value of their main theorem, Theorem 3.1, as their
// Appendix D computes it in p_value_DP_audit, and the epsilon search of get_eps_audit there, here with a
// doubling bracket and bisection to 1e-10 instead of a fixed 30 halvings). For an (eps, delta)-DP
// training algorithm, with B ~ Binomial(r, q),
//   q     = e^eps / (1 + e^eps)
//   beta  = P[B >= v]
//   alpha = max over i = 1..v of P[v - i <= B < v] / i
//   p(eps, delta) = min(1, beta + 2 m delta alpha)
// bounds the probability of v or more correct guesses. p grows with eps (a more private algorithm
// allows fewer correct guesses), so observing v rejects (eps, delta)-DP at level p_level for every eps
// below the crossing p(eps, delta) = p_level; that crossing is the reported lower bound (0 when even
// eps = 0 is not rejected). The binomial terms are summed in log space from log B(a, b) of
// attacks/beta_dist.h, so r in the millions neither overflows nor underflows.
//
// one_run_audit() turns the scores of ONE trained model into guesses: IN for the k_pos highest scores,
// OUT for the k_neg lowest. Picking k after seeing how well each k does is a multiple comparison, so
// each of the G candidate guesses on the grid is tested at level p_level / G (Bonferroni) and the
// largest epsilon is reported: the union bound makes "some candidate rejects wrongly" happen with
// probability at most p_level whatever the dependence between candidates, which matters because they
// share the same scores and are strongly correlated; G is only ~20 for m in the thousands, so the
// price is a small shift in the tail.
//
// Tested in tests/test_one_run_audit.cpp.
#pragma once
#include <cstdint>
#include <span>

namespace sp::lira {

// p(eps, delta) above. Requires 0 <= v <= r <= m, eps >= 0 (+inf allowed), 0 <= delta <= 1.
double one_run_p_value(int64_t m, int64_t r, int64_t v, double eps, double delta);

// The largest eps with p(eps, delta) < p_level, to ~1e-10 (rounded down); 0 when p(0, delta) >= p_level.
// Requires 0 < p_level < 1 and the arguments of one_run_p_value.
double one_run_epsilon(int64_t m, int64_t r, int64_t v, double delta, double p_level);

struct OneRunOptions {
  // delta = 0 is the paper's pure-DP headline case; delta > 0 adds the 2 m delta alpha term.
  double delta = 0;
  double confidence = 0.95;  // p_level = 1 - confidence
  // When fixed_guess is set, only (k_pos, k_neg) is evaluated, at level p_level with no correction: for
  // a guess chosen before looking at the scores (e.g. preregistered, or picked on a held-out run).
  bool fixed_guess = false;
  int64_t k_pos = 0, k_neg = 0;
};

struct OneRunGuess {
  int64_t k_pos = 0, k_neg = 0;  // IN guesses for the highest scores, OUT guesses for the lowest
  int64_t r = 0, v = 0;          // r = k_pos + k_neg guesses, v of them correct
  double epsilon = 0;            // one_run_epsilon(m, r, v, delta, p_level / candidates)
};

struct OneRunResult {
  double epsilon = 0;      // = best.epsilon, the maximum over the candidates
  int64_t m = 0;           // scored canaries (NaN scores excluded)
  OneRunGuess best;        // the first candidate (grid order) attaining the maximum
  int64_t candidates = 0;  // G; each candidate was tested at p_level / G
  double p_level = 0;      // overall level, 1 - confidence
  double delta = 0;
};

// scores: larger = more likely a member, NaN = not scored (dropped, and not counted in m); member: the
// 0/1 truth. Canaries are ranked by score, descending, ties by ascending index; IN goes to the first
// k_pos of that order and OUT to the last k_neg. The tie rule only needs to ignore the truth: in a real
// audit inclusion is drawn independently of the canary index, so the index carries no information.
// Without fixed_guess the candidates are k_pos = k_neg = k (two-sided) and k_pos = k, k_neg = 0
// (IN-only), for k in {1, 2, 5, 10, 20, 50, ...} below floor(m/2), plus floor(m/2) itself.
OneRunResult one_run_audit(std::span<const double> scores, std::span<const uint8_t> member,
                           const OneRunOptions& opt = {});

}  // namespace sp::lira
