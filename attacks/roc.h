// Pooled ROC over (score, membership) pairs. A pair is called a member when score >= threshold, with the
// thresholds at the distinct scores, so tied scores always move together (sklearn's roc_curve
// semantics). Metrics: TPR at FPR <= f (the largest TP/P over thresholds with FP/N <= f, no
// interpolation), AUC as the Mann-Whitney statistic with ties counted one half (computed exactly in
// integers), and balanced accuracy max (1 + TPR - FPR)/2. NaN scores (dropped pairs) are left out.
// Tested in tests/test_lira_roc.cpp against brute-force definitions.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

namespace sp::lira {

inline constexpr double kFprLevels[] = {1e-5, 1e-4, 1e-3, 1e-2, 1e-1};

struct RocPoint {
  double threshold;  // +inf for the first point (nothing called a member)
  int64_t tp, fp;
};

struct Roc {
  int64_t P = 0, N = 0;
  // (+inf, 0, 0) first, then one point per distinct score in descending order; the last is (min, P, N).
  std::vector<RocPoint> points;
};

// Indices of the non-NaN scores ordered by descending score (ties by ascending index); a radix sort.
std::vector<int64_t> order_desc(std::span<const double> scores);
// The ROC of the pairs in `order` (a descending-score order of a subset of the pairs).
Roc roc_from_order(std::span<const double> scores, std::span<const uint8_t> labels, std::span<const int64_t> order);
Roc roc_curve(std::span<const double> scores, std::span<const uint8_t> labels);

// NaN when there are no positives or no negatives.
double roc_auc(const Roc& r);
double balanced_accuracy(const Roc& r);
double tpr_at_fpr(const Roc& r, double fpr);

// A lossless-then-thinned subset of the ROC for CSV files and plots: points on straight segments are
// dropped (as sklearn's drop_intermediate), every remaining point with FP <= keep_all_fp is kept, and
// beyond that a point is kept when its FP, or its successor's, has grown by the factor `growth` since
// the last kept point (so the top of each step survives). The first and last points are always kept.
// All kept points are exact ROC points.
std::vector<RocPoint> thin_roc(const Roc& r, int64_t keep_all_fp = 1000, double growth = 1.002);

}  // namespace sp::lira
