// Metrics of one attack (see lira_metrics.h).
#include "attacks/lira_metrics.h"

namespace sp::lira {

Metrics evaluate(std::span<const double> scores, std::span<const uint8_t> labels, std::span<const int64_t> order,
                 int64_t M, const MetricsOptions& opt, bool keep_curve) {
  Roc roc = roc_from_order(scores, labels, order);
  Metrics m;
  m.P = roc.P;
  m.N = roc.N;
  m.auc = roc_auc(roc);
  m.balanced_accuracy = balanced_accuracy(roc);
  for (double f : kFprLevels) m.tpr_at_fpr.push_back({f, tpr_at_fpr(roc, f)});
  m.epsilon = epsilon_lower_bound(roc, opt.delta);
  if (opt.bootstrap > 0 && roc.P > 0 && roc.N > 0)
    m.bootstrap = bootstrap_tpr_at_fpr(scores, labels, order, M, opt.bootstrap_fpr, opt.bootstrap, opt.seed, opt.threads);
  if (keep_curve) m.curve = thin_roc(roc);
  return m;
}

}  // namespace sp::lira
