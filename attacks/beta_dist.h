// The regularized incomplete beta function I_x(a, b), its inverse in x, Clopper-Pearson binomial confidence
// intervals and the log binomial pmf, all on Boost.Math (ibeta, ibeta_inv, binomial_distribution's
// Clopper-Pearson bounds, ibeta_derivative): this file adds argument checks that name the function, and the
// closed forms at the ends. Tested in tests/test_lira_stats.cpp against closed forms, binomial tail sums and
// published intervals, and in tests/test_one_run_audit.cpp.
#pragma once
#include <cstdint>

namespace sp::lira {

double beta_inc(double a, double b, double x);      // a, b > 0, 0 <= x <= 1
double beta_inc_inv(double a, double b, double p);  // the x in [0, 1] with I_x(a, b) = p

struct Interval {
  double lo, hi;
};
// Two-sided (1 - alpha) Clopper-Pearson interval for k successes in n trials (alpha/2 in each tail).
Interval clopper_pearson(int64_t k, int64_t n, double alpha = 0.05);

// log P[B = k] for B ~ Binomial(r, q), given log q and log(1 - q) (both <= 0, so that a q within rounding of
// 1 keeps its complement exact). -inf only where the pmf is exactly zero.
double log_binomial_pmf(int64_t r, int64_t k, double log_q, double log_1mq);

}  // namespace sp::lira
