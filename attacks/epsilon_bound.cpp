// Epsilon lower bound from a ROC (see epsilon_bound.h).
#include "attacks/epsilon_bound.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <vector>

#include "attacks/beta_dist.h"
#include "kernels/error.h"

namespace sp::lira {
namespace {

// One form of the bound at one threshold: log((lo(k1 of n1) - delta) / hi(k2 of n2)), or -inf.
double exact(int64_t k1, int64_t n1, int64_t k2, int64_t n2, double delta, double alpha) {
  double lo = clopper_pearson(k1, n1, alpha).lo, hi = clopper_pearson(k2, n2, alpha).hi;
  if (!(lo > delta) || !(hi > 0)) return -std::numeric_limits<double>::infinity();
  return std::log((lo - delta) / hi);
}

struct Form {
  int64_t k1, n1, k2, n2;
};
// Form 0: TP of P against FP of N; form 1: TN of N against FN of P.
Form form_of(const Roc& r, const RocPoint& p, int f) {
  return f == 0 ? Form{p.tp, r.P, p.fp, r.N} : Form{r.N - p.fp, r.N, r.P - p.tp, r.P};
}

void check_args(const Roc& r, double delta, double alpha) {
  SP_CHECK(delta >= 0 && delta < 1, "epsilon_lower_bound: delta must be in [0, 1), got ", delta);
  SP_CHECK(alpha > 0 && alpha < 1, "epsilon_lower_bound: alpha must be in (0, 1), got ", alpha);
}

}  // namespace

EpsilonBound epsilon_lower_bound(const Roc& r, double delta, double alpha) {
  check_args(r, delta, alpha);
  EpsilonBound best;
  if (r.P == 0 || r.N == 0) return best;
  const double hi0[2] = {clopper_pearson(0, r.N, alpha).hi, clopper_pearson(0, r.P, alpha).hi};
  // Candidates ordered by the optimistic ratio (p - delta) / max(k2/n2, hi0), the exponential of the
  // optimistic bound; only ratios above 1 can give a positive epsilon.
  struct Cand {
    double ub;
    uint32_t form;
    size_t point;
  };
  std::vector<Cand> c;
  for (size_t k = 0; k < r.points.size(); ++k)
    for (int f = 0; f < 2; ++f) {
      Form x = form_of(r, r.points[k], f);
      double p = double(x.k1) / double(x.n1);
      double ratio = (p - delta) / std::max(double(x.k2) / double(x.n2), hi0[f]);
      if (ratio > 1) c.push_back({ratio, uint32_t(f), k});
    }
  auto lower = [](const Cand& a, const Cand& b) { return a.ub < b.ub || (a.ub == b.ub && a.point > b.point); };
  std::make_heap(c.begin(), c.end(), lower);
  // Upper limits are shared by the many candidates with the same (small) count in the denominator.
  std::map<std::pair<int, int64_t>, double> hi_memo;
  double best_ratio = 1;
  while (!c.empty() && c.front().ub > best_ratio) {
    std::pop_heap(c.begin(), c.end(), lower);
    Cand top = c.back();
    c.pop_back();
    const RocPoint& p = r.points[top.point];
    Form x = form_of(r, p, int(top.form));
    auto [it, fresh] = hi_memo.try_emplace({int(top.form), x.k2}, 0.0);
    if (fresh) it->second = clopper_pearson(x.k2, x.n2, alpha).hi;
    const double hi = it->second;
    // With the exact upper limit the candidate may already be out of the running.
    if ((double(x.k1) / double(x.n1) - delta) / hi <= best_ratio) continue;
    const double lo = clopper_pearson(x.k1, x.n1, alpha).lo;
    if (!(lo > delta)) continue;
    const double ratio = (lo - delta) / hi;
    if (ratio > best_ratio) {
      best_ratio = ratio;
      best = {std::log(ratio), p.threshold, p.tp, p.fp, top.form == 1};
    }
  }
  return best;
}

EpsilonBound epsilon_lower_bound_exhaustive(const Roc& r, double delta, double alpha) {
  check_args(r, delta, alpha);
  EpsilonBound best;
  if (r.P == 0 || r.N == 0) return best;
  for (const RocPoint& p : r.points)
    for (int f = 0; f < 2; ++f) {
      Form x = form_of(r, p, f);
      double e = exact(x.k1, x.n1, x.k2, x.n2, delta, alpha);
      if (e > best.epsilon) best = {e, p.threshold, p.tp, p.fp, f == 1};
    }
  return best;
}

}  // namespace sp::lira
