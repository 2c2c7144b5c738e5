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

// A target's pairs in score order, packed for the replicate sweeps: sample id << 2 | label << 1 | last of
// its tie group.
std::vector<uint32_t> pack(const BootstrapTarget& t, std::span<const uint8_t> labels, int64_t M) {
  std::vector<uint32_t> v(t.order.size());
  for (size_t j = 0; j < t.order.size(); ++j) {
    const int64_t p = t.order[j];
    bool last = j + 1 == t.order.size() || t.scores[size_t(t.order[j + 1])] != t.scores[size_t(p)];
    v[j] = uint32_t(p % M) << 2 | uint32_t(labels[size_t(p)] != 0) << 1 | uint32_t(last);
  }
  return v;
}

// TPR at FPR <= fpr with every pair weighted by its sample's weight; P and N are the weighted totals.
double sweep(const std::vector<uint32_t>& packed, const int32_t* w, double fpr, int64_t P, int64_t N) {
  if (P == 0 || N == 0) return std::numeric_limits<double>::quiet_NaN();
  int64_t tp = 0, fp = 0, best = 0;
  const double budget = fpr * double(N);
  for (uint32_t v : packed) {
    const int64_t wt = w[v >> 2];
    if (v & 2) {
      tp += wt;
    } else {
      fp += wt;
      // FP only grows: once over budget, no later threshold fits. (fp / N <= fpr as in tpr_at_fpr.)
      if (double(fp) > budget && double(fp) / double(N) > fpr) break;
    }
    if (v & 1) best = tp;
  }
  return double(best) / double(P);
}

}  // namespace

double weighted_tpr_at_fpr(std::span<const double> scores, std::span<const uint8_t> labels,
                           std::span<const int64_t> order, int64_t M, std::span<const int32_t> weight, double fpr) {
  int64_t P = 0, N = 0;
  for (int64_t p : order) (labels[size_t(p)] ? P : N) += weight[size_t(p % M)];
  return sweep(pack({scores, order}, labels, M), weight.data(), fpr, P, N);
}

std::vector<BootstrapInterval> bootstrap_tpr_at_fpr(std::span<const BootstrapTarget> targets,
                                                    std::span<const uint8_t> labels, int64_t M, double fpr,
                                                    int replicates, uint64_t seed, int threads, double level) {
  SP_CHECK(replicates >= 1, "bootstrap: need at least one replicate, got ", replicates);
  SP_CHECK(level > 0 && level < 1, "bootstrap: level must be in (0, 1), got ", level);
  SP_CHECK(M >= 1 && M < (int64_t(1) << 30), "bootstrap: M = ", M, " out of range");
  std::vector<BootstrapInterval> out(targets.size());
  if (targets.empty()) return out;
  for (const BootstrapTarget& t : targets)
    SP_CHECK(t.scores.size() == labels.size() && t.scores.size() % size_t(M) == 0 &&
                 t.order.size() == targets[0].order.size(),
             "bootstrap: targets must score the same pairs (", t.scores.size(), " scores, ", labels.size(),
             " labels, ", t.order.size(), " vs ", targets[0].order.size(), " ordered pairs, M = ", M, ")");
  // Members and non-members per sample (the same for every target), so a replicate's totals come with
  // its draws.
  std::vector<int32_t> pos(size_t(M), 0), neg(size_t(M), 0);
  for (int64_t p : targets[0].order) ++(labels[size_t(p)] ? pos : neg)[size_t(p % M)];
  std::vector<int64_t> ids;
  for (int64_t i = 0; i < M; ++i)
    if (pos[size_t(i)] + neg[size_t(i)] > 0) ids.push_back(i);
  if (ids.empty()) return out;
  std::vector<std::vector<uint32_t>> packed;
  for (const BootstrapTarget& t : targets) packed.push_back(pack(t, labels, M));

  const size_t T = targets.size();
  std::vector<double> values(size_t(replicates) * T, std::numeric_limits<double>::quiet_NaN());
  const int nt = std::max(1, threads);
  std::vector<std::vector<int32_t>> weights(size_t(nt), std::vector<int32_t>(size_t(M), 0));
  parallel_tasks(replicates, nt, [&](int64_t r, int tid) {
    std::vector<int32_t>& w = weights[size_t(tid)];
    uint64_t state = seed ^ (0x6a09e667f3bcc909ull * uint64_t(r + 1));
    int64_t P = 0, N = 0;
    for (size_t k = 0; k < ids.size(); ++k) {
      const int64_t i = ids[uniform_below(state, ids.size())];
      ++w[size_t(i)];
      P += pos[size_t(i)];
      N += neg[size_t(i)];
    }
    for (size_t k = 0; k < T; ++k) values[size_t(r) * T + k] = sweep(packed[k], w.data(), fpr, P, N);
    for (int64_t i : ids) w[size_t(i)] = 0;
  });
  for (size_t k = 0; k < T; ++k) {
    std::vector<double> ok;
    for (int64_t r = 0; r < replicates; ++r)
      if (!std::isnan(values[size_t(r) * T + k])) ok.push_back(values[size_t(r) * T + k]);
    out[k].replicates = int(ok.size());
    if (ok.empty()) continue;
    std::sort(ok.begin(), ok.end());
    out[k].lo = percentile(ok, (1 - level) / 2);
    out[k].hi = percentile(ok, 1 - (1 - level) / 2);
  }
  return out;
}

}  // namespace sp::lira
