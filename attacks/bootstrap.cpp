// Sample-level bootstrap of TPR at a fixed FPR (see bootstrap.h).
#include "attacks/bootstrap.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "attacks/parallel.h"
#include "kernels/error.h"

namespace sp::lira {
namespace {

uint64_t splitmix64(uint64_t& s) {
  uint64_t z = (s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// Uniform integer in [0, n) without modulo bias (Lemire's multiply-and-reject).
uint64_t uniform_below(uint64_t& s, uint64_t n) {
  for (;;) {
    unsigned __int128 m = (unsigned __int128)splitmix64(s) * n;
    uint64_t low = uint64_t(m);
    if (low >= n || low >= (0 - n) % n) return uint64_t(m >> 64);
  }
}

double percentile(const std::vector<double>& sorted, double q) {
  double pos = q * double(sorted.size() - 1);
  size_t k = size_t(pos);
  if (k + 1 >= sorted.size()) return sorted.back();
  return sorted[k] + (pos - double(k)) * (sorted[k + 1] - sorted[k]);
}

// The sweep of weighted_tpr_at_fpr given the weighted totals P and N.
double sweep(std::span<const double> scores, std::span<const uint8_t> labels, std::span<const int64_t> order,
             int64_t M, std::span<const int32_t> weight, double fpr, int64_t P, int64_t N) {
  if (P == 0 || N == 0) return std::numeric_limits<double>::quiet_NaN();
  int64_t tp = 0, fp = 0, best = 0;
  for (size_t j = 0; j < order.size(); ++j) {
    const int64_t p = order[j];
    (labels[size_t(p)] ? tp : fp) += weight[size_t(p % M)];
    if (double(fp) / double(N) > fpr) break;  // FP only grows: no later threshold fits the budget
    if (j + 1 == order.size() || scores[size_t(order[j + 1])] != scores[size_t(p)]) best = tp;
  }
  return double(best) / double(P);
}

}  // namespace

double weighted_tpr_at_fpr(std::span<const double> scores, std::span<const uint8_t> labels,
                           std::span<const int64_t> order, int64_t M, std::span<const int32_t> weight, double fpr) {
  int64_t P = 0, N = 0;
  for (int64_t p : order) (labels[size_t(p)] ? P : N) += weight[size_t(p % M)];
  return sweep(scores, labels, order, M, weight, fpr, P, N);
}

BootstrapInterval bootstrap_tpr_at_fpr(std::span<const double> scores, std::span<const uint8_t> labels,
                                       std::span<const int64_t> order, int64_t M, double fpr, int replicates,
                                       uint64_t seed, int threads, double level) {
  SP_CHECK(replicates >= 1, "bootstrap: need at least one replicate, got ", replicates);
  SP_CHECK(level > 0 && level < 1, "bootstrap: level must be in (0, 1), got ", level);
  SP_CHECK(M >= 1 && scores.size() == labels.size() && scores.size() % size_t(M) == 0,
           "bootstrap: ", scores.size(), " scores and ", labels.size(), " labels for M = ", M);
  // Members and non-members per sample, so a replicate's totals cost O(samples), not O(pairs).
  std::vector<int32_t> pos(size_t(M), 0), neg(size_t(M), 0);
  for (int64_t p : order) ++(labels[size_t(p)] ? pos : neg)[size_t(p % M)];
  std::vector<int64_t> ids;
  for (int64_t i = 0; i < M; ++i)
    if (pos[size_t(i)] + neg[size_t(i)] > 0) ids.push_back(i);
  BootstrapInterval out;
  if (ids.empty()) return out;

  std::vector<double> values(size_t(replicates), std::numeric_limits<double>::quiet_NaN());
  int nt = std::max(1, threads);
  std::vector<std::vector<int32_t>> weights(size_t(nt), std::vector<int32_t>(size_t(M), 0));
  parallel_tasks(replicates, nt, [&](int64_t r, int tid) {
    std::vector<int32_t>& w = weights[size_t(tid)];
    uint64_t state = seed ^ (0x6a09e667f3bcc909ull * uint64_t(r + 1));
    for (size_t k = 0; k < ids.size(); ++k) ++w[size_t(ids[uniform_below(state, ids.size())])];
    int64_t P = 0, N = 0;
    for (int64_t i : ids) {
      P += int64_t(w[size_t(i)]) * pos[size_t(i)];
      N += int64_t(w[size_t(i)]) * neg[size_t(i)];
    }
    values[size_t(r)] = sweep(scores, labels, order, M, w, fpr, P, N);
    for (int64_t i : ids) w[size_t(i)] = 0;
  });
  std::vector<double> ok;
  for (double v : values)
    if (!std::isnan(v)) ok.push_back(v);
  out.replicates = int(ok.size());
  if (ok.empty()) return out;
  std::sort(ok.begin(), ok.end());
  out.lo = percentile(ok, (1 - level) / 2);
  out.hi = percentile(ok, 1 - (1 - level) / 2);
  return out;
}

}  // namespace sp::lira
