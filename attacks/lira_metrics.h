// All numbers reported for one attack on one set of (score, membership) pairs: AUC, balanced accuracy,
// TPR at FPR <= {1e-5, ..., 1e-1}, the epsilon lower bound and the bootstrap interval of TPR at 0.1% FPR,
// plus the thinned ROC for CSV files and plots. Tested in tests/test_lira_roc.cpp and end to end in
// tests/test_lira_cli.cpp.
#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "attacks/bootstrap.h"
#include "attacks/epsilon_bound.h"
#include "attacks/roc.h"

namespace sp::lira {

struct MetricsOptions {
  double delta = 1e-5;         // for the epsilon lower bound
  int bootstrap = 0;           // replicates; 0 disables the interval
  double bootstrap_fpr = 1e-3;
  uint64_t seed = 0;
  int threads = 1;
};

struct Metrics {
  int64_t P = 0, N = 0;
  double auc = 0, balanced_accuracy = 0;
  std::vector<std::pair<double, double>> tpr_at_fpr;  // (FPR level, TPR) for kFprLevels
  EpsilonBound epsilon;
  std::optional<BootstrapInterval> bootstrap;
  std::vector<RocPoint> curve;  // thinned ROC, only when requested
};

// scores/labels over all S*M pairs (p = t * M + i); order: descending-score order of the pairs to use.
// Everything but the bootstrap interval, which add_bootstrap fills for several attacks at once.
Metrics evaluate(std::span<const double> scores, std::span<const uint8_t> labels, std::span<const int64_t> order,
                 const MetricsOptions& opt, bool keep_curve);

// Bootstrap intervals of TPR at opt.bootstrap_fpr for several attacks scored on the same pairs, from
// shared (paired) replicates; metrics[k] belongs to targets[k]. Metrics without members or non-members
// get none.
void add_bootstrap(std::span<Metrics* const> metrics, std::span<const BootstrapTarget> targets,
                   std::span<const uint8_t> labels, int64_t M, const MetricsOptions& opt);

}  // namespace sp::lira
