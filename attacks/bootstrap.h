// Bootstrap confidence interval for TPR at a fixed FPR, resampling audit samples (with all their
// (model, sample) pairs, which are correlated through the sample) rather than individual pairs. Each
// replicate reweights the already sorted pairs by the sample multiplicities, so no replicate re-sorts,
// and the sweep stops as soon as the weighted FP budget is exceeded. Percentile interval; replicates
// are seeded individually, so the result depends on the seed but not on the thread count. Tested in
// tests/test_lira_roc.cpp (replicate of weights 1 reproduces the point estimate; coverage sanity).
#pragma once
#include <cstdint>
#include <span>
#include <vector>

namespace sp::lira {

struct BootstrapInterval {
  int replicates = 0;  // replicates with both members and non-members
  double lo = 0, hi = 0;
};

// One set of scores to evaluate on every replicate.
struct BootstrapTarget {
  std::span<const double> scores;  // all pairs, index p = t * M + i (sample i = p % M)
  std::span<const int64_t> order;  // a descending-score order of the pairs to use (all, or a group's)
};

// Intervals for several targets that order the same set of pairs (e.g. the attacks' scores of one group):
// every replicate draws one multiset of samples and evaluates all targets on it, so the intervals are
// paired across targets and the draws are paid once.
std::vector<BootstrapInterval> bootstrap_tpr_at_fpr(std::span<const BootstrapTarget> targets,
                                                    std::span<const uint8_t> labels, int64_t M, double fpr,
                                                    int replicates, uint64_t seed, int threads, double level = 0.95);

// TPR at FPR <= fpr of the pairs in `order`, each pair weighted by the weight of its sample; the building
// block of a replicate (exposed for tests).
double weighted_tpr_at_fpr(std::span<const double> scores, std::span<const uint8_t> labels,
                           std::span<const int64_t> order, int64_t M, std::span<const int32_t> weight, double fpr);

}  // namespace sp::lira
