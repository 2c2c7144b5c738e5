// An empirical lower bound on the DP epsilon from an attack's ROC. An (eps, delta)-DP training algorithm
// forces every membership test to satisfy TPR <= e^eps FPR + delta and 1 - FPR <= e^eps (1 - TPR) + delta.
// At each ROC threshold, with two-sided (1 - alpha) Clopper-Pearson intervals on the rates,
//   eps >= log((TPR_lo - delta) / FPR_hi)   and   eps >= log((TNR_lo - delta) / FNR_hi),
// and the bound reported is the maximum over thresholds and both forms (0 when nothing is implied). As in
// the references, the maximum over thresholds is not corrected for multiple comparisons. Candidates are
// visited in order of a cheap upper bound (the point estimates) and the search stops once no remaining
// one can win, so only a handful of exact intervals are computed even for millions of thresholds.
// Tested in tests/test_lira_stats.cpp against an exhaustive search.
#pragma once
#include <cstdint>

#include "attacks/roc.h"

namespace sp::lira {

struct EpsilonBound {
  double epsilon = 0;  // >= 0
  double threshold = 0;
  int64_t tp = 0, fp = 0;
  bool complement = false;  // true when the TNR/FNR form attains it
};

EpsilonBound epsilon_lower_bound(const Roc& r, double delta, double alpha = 0.05);
// The same bound by evaluating every threshold exactly; for tests.
EpsilonBound epsilon_lower_bound_exhaustive(const Roc& r, double delta, double alpha = 0.05);

}  // namespace sp::lira
