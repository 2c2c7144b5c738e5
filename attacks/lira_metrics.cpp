// Metrics of one attack (see lira_metrics.h).
#include "attacks/lira_metrics.h"

#include "kernels/error.h"

namespace sp::lira {

Metrics evaluate(std::span<const double> scores, std::span<const uint8_t> labels, std::span<const int64_t> order,
                 const MetricsOptions& opt, bool keep_curve) {
  Roc roc = roc_from_order(scores, labels, order);
  Metrics m;
  m.P = roc.P;
  m.N = roc.N;
  m.auc = roc_auc(roc);
  m.balanced_accuracy = balanced_accuracy(roc);
  for (double f : kFprLevels) m.tpr_at_fpr.push_back({f, tpr_at_fpr(roc, f)});
  m.epsilon = epsilon_lower_bound(roc, opt.delta);
  if (keep_curve) m.curve = thin_roc(roc);
  return m;
}

void add_bootstrap(std::span<Metrics* const> metrics, std::span<const BootstrapTarget> targets,
                   std::span<const uint8_t> labels, int64_t M, const MetricsOptions& opt) {
  SP_CHECK(metrics.size() == targets.size(), "add_bootstrap: ", metrics.size(), " metrics for ", targets.size(), " targets");
  if (opt.bootstrap <= 0 || metrics.empty() || metrics[0]->P == 0 || metrics[0]->N == 0) return;
  std::vector<BootstrapInterval> b =
      bootstrap_tpr_at_fpr(targets, labels, M, opt.bootstrap_fpr, opt.bootstrap, opt.seed, opt.threads);
  for (size_t k = 0; k < metrics.size(); ++k) metrics[k]->bootstrap = b[k];
}

}  // namespace sp::lira
