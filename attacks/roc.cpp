// ROC construction and metrics (see roc.h).
#include "attacks/roc.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <cstring>

#include "kernels/error.h"

namespace sp::lira {

namespace {

// Keys whose unsigned order is the descending order of the scores (-0 and +0 tie, as they compare equal).
uint64_t descending_key(double d) {
  if (d == 0) d = 0.0;
  uint64_t u;
  std::memcpy(&u, &d, sizeof u);
  u = (u >> 63) ? ~u : (u | (uint64_t(1) << 63));  // ascending order of the doubles
  return ~u;
}

}  // namespace

std::vector<int64_t> order_desc(std::span<const double> scores) {
  struct Item {
    uint64_t key;
    int64_t index;
  };
  std::vector<Item> a, b;
  a.reserve(scores.size());
  for (size_t i = 0; i < scores.size(); ++i)
    if (!std::isnan(scores[i])) a.push_back({descending_key(scores[i]), int64_t(i)});
  b.resize(a.size());
  // LSD radix sort in six passes of 11 bits (the histograms of all passes come from one read). Each pass
  // is stable and the input is in index order, so ties end up by ascending index. Passes where every key
  // has the same digit are skipped.
  constexpr int kBits = 11, kPasses = 6, kBuckets = 1 << kBits;
  std::vector<size_t> count(size_t(kPasses) * kBuckets, 0);
  for (const Item& it : a)
    for (int p = 0; p < kPasses; ++p) ++count[size_t(p) * kBuckets + ((it.key >> (p * kBits)) & (kBuckets - 1))];
  for (int p = 0; p < kPasses; ++p) {
    size_t* c = &count[size_t(p) * kBuckets];
    if (std::find(c, c + kBuckets, a.size()) != c + kBuckets) continue;
    size_t sum = 0;
    for (int d = 0; d < kBuckets; ++d) {
      size_t n = c[d];
      c[d] = sum;
      sum += n;
    }
    for (const Item& it : a) b[c[(it.key >> (p * kBits)) & (kBuckets - 1)]++] = it;
    a.swap(b);
  }
  std::vector<int64_t> order(a.size());
  for (size_t j = 0; j < a.size(); ++j) order[j] = a[j].index;
  return order;
}

Roc roc_from_order(std::span<const double> scores, std::span<const uint8_t> labels, std::span<const int64_t> order) {
  SP_CHECK(scores.size() == labels.size(), "roc: ", scores.size(), " scores but ", labels.size(), " labels");
  Roc r;
  r.points.push_back({std::numeric_limits<double>::infinity(), 0, 0});
  int64_t tp = 0, fp = 0;
  for (size_t j = 0; j < order.size(); ++j) {
    const int64_t i = order[j];
    SP_CHECK(i >= 0 && size_t(i) < scores.size(), "roc: index ", i, " out of range");
    (labels[size_t(i)] ? tp : fp)++;
    // A point closes each run of equal scores.
    if (j + 1 == order.size() || scores[size_t(order[j + 1])] != scores[size_t(i)]) r.points.push_back({scores[size_t(i)], tp, fp});
  }
  r.P = tp;
  r.N = fp;
  return r;
}

Roc roc_curve(std::span<const double> scores, std::span<const uint8_t> labels) {
  std::vector<int64_t> o = order_desc(scores);
  return roc_from_order(scores, labels, o);
}

double roc_auc(const Roc& r) {
  if (r.P == 0 || r.N == 0) return std::numeric_limits<double>::quiet_NaN();
  // Trapezoids between ROC points = Mann-Whitney U with ties counted 1/2; twice the area is an integer.
  __int128 twice = 0;
  for (size_t k = 1; k < r.points.size(); ++k)
    twice += __int128(r.points[k].fp - r.points[k - 1].fp) * (r.points[k].tp + r.points[k - 1].tp);
  return double(twice) / (2.0 * double(r.P) * double(r.N));
}

double balanced_accuracy(const Roc& r) {
  if (r.P == 0 || r.N == 0) return std::numeric_limits<double>::quiet_NaN();
  double best = 0;
  for (const RocPoint& p : r.points)
    best = std::max(best, 0.5 * (1.0 + double(p.tp) / double(r.P) - double(p.fp) / double(r.N)));
  return best;
}

double tpr_at_fpr(const Roc& r, double fpr) {
  if (r.P == 0 || r.N == 0) return std::numeric_limits<double>::quiet_NaN();
  // TP grows along the points, so the answer is the last point within the FPR budget. fp / N and the
  // decimal level round identically when they are equal, so the comparison is exact at the boundary.
  int64_t best = 0;
  for (const RocPoint& p : r.points) {
    if (double(p.fp) / double(r.N) > fpr) break;
    best = p.tp;
  }
  return double(best) / double(r.P);
}

std::vector<RocPoint> thin_roc(const Roc& r, int64_t keep_all_fp, double growth) {
  const auto& p = r.points;
  std::vector<RocPoint> out;
  if (p.empty()) return out;
  double last_fp = 0;
  for (size_t k = 0; k < p.size(); ++k) {
    bool ends = k == 0 || k + 1 == p.size();
    if (!ends) {
      int64_t dt0 = p[k].tp - p[k - 1].tp, df0 = p[k].fp - p[k - 1].fp;
      int64_t dt1 = p[k + 1].tp - p[k].tp, df1 = p[k + 1].fp - p[k].fp;
      if (__int128(dt0) * df1 == __int128(df0) * dt1) continue;  // interior of a straight segment
      // Beyond keep_all_fp, keep the points where FP first reaches the next level and the ones just
      // before, so the top of every step survives the thinning.
      if (p[k].fp > keep_all_fp && double(p[k].fp) < last_fp * growth && double(p[k + 1].fp) < last_fp * growth)
        continue;
    }
    out.push_back(p[k]);
    last_fp = double(p[k].fp);
  }
  return out;
}

}  // namespace sp::lira
