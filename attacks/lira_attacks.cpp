// LiRA attacks (see lira_attacks.h). Work is split over blocks of samples; every score depends only on
// its own sample's data, and pooled sums are reduced in block order, so results do not depend on the
// thread count.
#include "attacks/lira_attacks.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "attacks/gauss.h"
#include "attacks/parallel.h"

namespace sp::lira {

std::string_view attack_name(Attack a) {
  switch (a) {
    case Attack::online: return "online";
    case Attack::online_global_variance: return "online_global_variance";
    case Attack::offline: return "offline";
    case Attack::global_threshold: return "global_threshold";
    case Attack::rmia_online: return "rmia_online";
    case Attack::rmia_offline: return "rmia_offline";
  }
  return "?";
}
Attack attack_from_name(std::string_view n) {
  for (Attack a : kAllAttacks)
    if (attack_name(a) == n) return a;
  for (Attack a : kRmiaAttacks)
    if (attack_name(a) == n) return a;
  SP_FAIL("unknown attack '", n,
          "' (expected online, online_global_variance, offline, global_threshold, rmia_online or rmia_offline)");
}
std::string_view fit_name(Fit f) { return f == Fit::mean ? "mean" : "median"; }
Fit fit_from_name(std::string_view n) {
  if (n == "mean") return Fit::mean;
  if (n == "median") return Fit::median;
  SP_FAIL("unknown fit '", n, "' (expected mean or median)");
}
std::string_view offline_score_name(OfflineScore o) { return o == OfflineScore::cdf ? "cdf" : "pdf"; }
OfflineScore offline_score_from_name(std::string_view n) {
  if (n == "cdf") return OfflineScore::cdf;
  if (n == "pdf") return OfflineScore::pdf;
  SP_FAIL("unknown offline score '", n, "' (expected cdf or pdf)");
}

namespace {

constexpr double kSigmaFloor = 1e-30;
constexpr int64_t kBlock = 256;  // samples per task

bool wants(std::span<const Attack> v, Attack a) { return std::find(v.begin(), v.end(), a) != v.end(); }

// The fit of one group (IN or OUT models of one sample and query): mean and sum of squared deviations
// over the whole group, and the sorted values for medians. loo() gives the fit without one member.
class GroupFit {
 public:
  explicit GroupFit(int64_t S) : idx_(size_t(S)), sorted_(size_t(S)), rank_(size_t(S)) {}

  // Members: s with valid[s] && member[s] == want.
  void fit(const double* x, const uint8_t* member, const uint8_t* valid, int64_t S, uint8_t want, bool median) {
    x_ = x;
    n_ = 0;
    double sum = 0;
    for (int64_t s = 0; s < S; ++s)
      if (valid[s] && member[s] == want) {
        idx_[size_t(n_++)] = int32_t(s);
        sum += x[s];
      }
    if (n_ == 0) return;
    mean_ = sum / double(n_);
    double m2 = 0;
    for (int64_t k = 0; k < n_; ++k) {
      double e = x[idx_[size_t(k)]] - mean_;
      m2 += e * e;
    }
    m2_ = m2;
    if (median) {
      // Insertion sort: groups hold at most S (tens to hundreds) values.
      for (int64_t k = 0; k < n_; ++k) {
        int32_t s = idx_[size_t(k)];
        double v = x[s];
        int64_t p = k;
        while (p > 0 && x[sorted_[size_t(p - 1)]] > v) {
          sorted_[size_t(p)] = sorted_[size_t(p - 1)];
          --p;
        }
        sorted_[size_t(p)] = s;
      }
      for (int64_t k = 0; k < n_; ++k) rank_[size_t(sorted_[size_t(k)])] = int32_t(k);
    }
  }

  int64_t n() const { return n_; }
  int64_t model_at(int64_t k) const { return idx_[size_t(k)]; }  // k-th member in ascending model order

  // mean (or median) and m2 of the group without model `drop` (-1: nobody removed). Returns the count.
  int64_t loo(int64_t drop, bool median, double& mu, double& m2) const {
    if (drop < 0) {
      mu = median ? median_without(-1) : mean_;
      m2 = m2_;
      return n_;
    }
    const int64_t n = n_ - 1;
    const double e = x_[drop] - mean_;
    double mean = mean_ - e / double(n);
    double r = m2_ - e * e * double(n_) / double(n);
    if (!(r >= 1e-3 * m2_)) {
      // Most of the spread came from the removed value: recompute directly rather than trust the
      // difference of two nearly equal numbers.
      double sum = 0;
      for (int64_t k = 0; k < n_; ++k)
        if (idx_[size_t(k)] != drop) sum += x_[idx_[size_t(k)]];
      mean = n > 0 ? sum / double(n) : 0.0;
      r = 0;
      for (int64_t k = 0; k < n_; ++k)
        if (idx_[size_t(k)] != drop) {
          double d = x_[idx_[size_t(k)]] - mean;
          r += d * d;
        }
    }
    mu = median ? median_without(drop) : mean;
    m2 = r;
    return n;
  }

 private:
  // Median of the sorted group with the element of model `drop` removed (drop < 0: none).
  double median_without(int64_t drop) const {
    const int64_t skip = drop < 0 ? n_ : rank_[size_t(drop)];
    const int64_t n = drop < 0 ? n_ : n_ - 1;
    auto at = [&](int64_t p) { return x_[sorted_[size_t(p < skip ? p : p + 1)]]; };
    return n % 2 ? at(n / 2) : 0.5 * (at(n / 2 - 1) + at(n / 2));
  }

  const double* x_ = nullptr;
  int64_t n_ = 0;
  double mean_ = 0, m2_ = 0;
  std::vector<int32_t> idx_, sorted_, rank_;  // rank_ is indexed by model
};

double sigma_of(double m2, int64_t n, int ddof) { return std::sqrt(std::max(m2, 0.0) / double(n - ddof)) + kSigmaFloor; }

}  // namespace

int64_t fold_drop_index(int64_t i, int64_t t, int64_t n) {
  SP_CHECK(n >= 1, "fold_drop_index: empty group");
  uint64_t z = uint64_t(i) * 0x9e3779b97f4a7c15ull + uint64_t(t) * 0xbf58476d1ce4e5b9ull + 0x94d049bb133111ebull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z ^= z >> 31;
  return int64_t(z % uint64_t(n));
}

int64_t check_fit_counts(const LiraData& d, std::span<const Attack> attacks, std::vector<uint8_t>* scored,
                         bool equalize_folds) {
  int64_t need_in = 0, need_out = 0;
  const char* who = "";
  auto require = [&](Attack a, int64_t in, int64_t out) {
    if (!wants(attacks, a)) return;
    if (in > need_in || out > need_out) who = attack_name(a).data();
    need_in = std::max(need_in, in);
    need_out = std::max(need_out, out);
  };
  require(Attack::online_global_variance, 1, 1);
  require(Attack::offline, 0, 2);
  require(Attack::online, 2, 2);
  if (need_in == 0 && need_out == 0) return 0;
  const int64_t S = d.S;
  int64_t unscored = 0;
  for (int64_t i = 0; i < d.M; ++i) {
    const uint8_t* mem = &d.member[size_t(i * S)];
    const uint8_t* val = &d.valid[size_t(i * S)];
    int64_t n_in = 0, n_out = 0, n_in_all = 0;
    for (int64_t s = 0; s < S; ++s) {
      n_in_all += mem[s];
      if (val[s]) (mem[s] ? n_in : n_out)++;
    }
    for (int64_t t = 0; t < S; ++t) {
      if (!val[t]) continue;
      // Equalized folds lose one model from each group; otherwise only the target's group loses it.
      int64_t in = n_in - (equalize_folds ? 1 : mem[t]), out = n_out - (equalize_folds ? 1 : !mem[t]);
      if (in >= need_in && out >= need_out) continue;
      // Without the dropped pairs the fold would have been fine: leave this pair unscored.
      int64_t in_all = n_in_all - (equalize_folds ? 1 : mem[t]), out_all = S - n_in_all - (equalize_folds ? 1 : !mem[t]);
      if (scored && in_all >= need_in && out_all >= need_out) {
        (*scored)[size_t(i * S + t)] = 0;
        ++unscored;
        continue;
      }
      SP_FAIL("sample ", i, ": with target model ", t, " (", d.model_names[size_t(t)], ") held out it is IN for ", in,
              " and OUT for ", out, " of the other ", S - 1, " models (keep.npy",
              d.dropped_pairs ? ", after dropping non-finite pairs" : "", equalize_folds ? ", equalized folds" : "",
              "); the ", who, " attack needs at least ", need_in, " IN and ", need_out,
              " OUT shadow models per sample, otherwise its std is undefined");
    }
  }
  return unscored;
}

FoldSigmas global_fold_sigmas(const LiraData& d, int ddof, int threads) {
  const int64_t S = d.S, M = d.M, A = d.A;
  const int64_t nblocks = (M + kBlock - 1) / kBlock;
  // Per block and model: [count, sum] then [m2] for IN (0) and OUT (1); reduced in block order.
  std::vector<double> cnt(size_t(nblocks * S * 2), 0.0), acc(size_t(nblocks * S * 2), 0.0);
  auto pass = [&](const std::vector<double>* means) {
    std::fill(acc.begin(), acc.end(), 0.0);
    parallel_tasks(nblocks, resolve_threads(threads), [&](int64_t b, int) {
      double* c = &cnt[size_t(b * S * 2)];
      double* s = &acc[size_t(b * S * 2)];
      for (int64_t i = b * kBlock; i < std::min(M, (b + 1) * kBlock); ++i) {
        const uint8_t* mem = &d.member[size_t(i * S)];
        const uint8_t* val = &d.valid[size_t(i * S)];
        for (int64_t a = 0; a < A; ++a) {
          const double* x = &d.phi[size_t((i * A + a) * S)];
          for (int64_t m = 0; m < S; ++m) {
            if (!val[m]) continue;
            size_t k = size_t(m * 2 + (mem[m] ? 0 : 1));
            if (means) {
              double e = x[m] - (*means)[k];
              s[k] += e * e;
            } else {
              c[k] += 1;
              s[k] += x[m];
            }
          }
        }
      }
    });
    std::vector<double> tot(size_t(S * 2), 0.0), n(size_t(S * 2), 0.0);
    for (int64_t b = 0; b < nblocks; ++b)
      for (int64_t k = 0; k < S * 2; ++k) {
        tot[size_t(k)] += acc[size_t(b * S * 2 + k)];
        n[size_t(k)] += cnt[size_t(b * S * 2 + k)];
      }
    return std::pair(n, tot);
  };
  auto [n, sum] = pass(nullptr);
  std::vector<double> mean(size_t(S * 2), 0.0);
  for (int64_t k = 0; k < S * 2; ++k) mean[size_t(k)] = n[size_t(k)] > 0 ? sum[size_t(k)] / n[size_t(k)] : 0.0;
  std::fill(cnt.begin(), cnt.end(), 0.0);
  auto m2 = pass(&mean).second;

  FoldSigmas f;
  f.in.resize(size_t(S));
  f.out.resize(size_t(S));
  for (int64_t t = 0; t < S; ++t) {
    for (int g = 0; g < 2; ++g) {
      // Pool the per-model groups of every model but t: m2 = sum m2_s + sum n_s (mean_s - mean)^2.
      double nt = 0, st = 0;
      for (int64_t s = 0; s < S; ++s)
        if (s != t) {
          nt += n[size_t(s * 2 + g)];
          st += n[size_t(s * 2 + g)] * mean[size_t(s * 2 + g)];
        }
      SP_CHECK(nt >= 2, "online_global_variance: fold of target model ", t, " has ", nt, g == 0 ? " IN" : " OUT",
               " phi values in its shadow models; the pooled std needs at least 2");
      double mu = st / nt, q = 0;
      for (int64_t s = 0; s < S; ++s)
        if (s != t) {
          double e = mean[size_t(s * 2 + g)] - mu;
          q += m2[size_t(s * 2 + g)] + n[size_t(s * 2 + g)] * e * e;
        }
      (g == 0 ? f.in : f.out)[size_t(t)] = std::sqrt(q / (nt - ddof));
    }
  }
  return f;
}

std::vector<AttackScores> run_attacks(const LiraData& d, std::span<const Attack> attacks, const AttackOptions& opt,
                                      int64_t* unscored_pairs) {
  SP_CHECK(opt.ddof == 0 || opt.ddof == 1, "run_attacks: ddof must be 0 or 1, got ", opt.ddof);
  SP_CHECK(!attacks.empty(), "run_attacks: no attacks requested");
  for (Attack a : attacks) SP_CHECK(!is_rmia(a), "run_attacks: ", attack_name(a), " is scored by run_rmia (attacks/rmia.h)");
  for (size_t k = 0; k < attacks.size(); ++k)
    SP_CHECK(std::count(attacks.begin(), attacks.end(), attacks[k]) == 1, "run_attacks: attack ",
             attack_name(attacks[k]), " requested twice");
  // Targets to score: valid pairs, less those whose folds lost too many shadow models to dropped pairs.
  std::vector<uint8_t> scored = d.valid;
  int64_t unscored = check_fit_counts(d, attacks, d.dropped_pairs ? &scored : nullptr, opt.equalize_folds);
  if (unscored_pairs) *unscored_pairs = unscored;
  const int64_t S = d.S, M = d.M, A = d.A;
  const bool on = wants(attacks, Attack::online), ogv = wants(attacks, Attack::online_global_variance),
             off = wants(attacks, Attack::offline), glob = wants(attacks, Attack::global_threshold);
  const bool median = opt.fit == Fit::median, need_in = on || ogv, need_out = on || ogv || off;
  const int threads = resolve_threads(opt.threads);

  FoldSigmas gs;
  std::vector<double> log_gs_in, log_gs_out;
  if (ogv) {
    gs = global_fold_sigmas(d, opt.ddof, threads);
    for (int64_t t = 0; t < S; ++t) {
      gs.in[size_t(t)] += kSigmaFloor;
      gs.out[size_t(t)] += kSigmaFloor;
      log_gs_in.push_back(std::log(gs.in[size_t(t)]));
      log_gs_out.push_back(std::log(gs.out[size_t(t)]));
    }
  }

  const double nan = std::numeric_limits<double>::quiet_NaN();
  std::vector<double> s_on(on ? size_t(S * M) : 0, nan), s_ogv(ogv ? size_t(S * M) : 0, nan),
      s_off(off ? size_t(S * M) : 0, nan), s_glob(glob ? size_t(S * M) : 0, nan);

  const int64_t nblocks = (M + kBlock - 1) / kBlock;
  parallel_tasks(nblocks, threads, [&](int64_t b, int) {
    GroupFit gin(S), gout(S);
    std::vector<double> acc_on(static_cast<size_t>(S)), acc_ogv(static_cast<size_t>(S)), acc_off(static_cast<size_t>(S));
    for (int64_t i = b * kBlock; i < std::min(M, (b + 1) * kBlock); ++i) {
      const uint8_t* mem = &d.member[size_t(i * S)];
      const uint8_t* val = &d.valid[size_t(i * S)];
      const uint8_t* tgt = &scored[size_t(i * S)];
      std::fill(acc_on.begin(), acc_on.end(), 0.0);
      std::fill(acc_ogv.begin(), acc_ogv.end(), 0.0);
      std::fill(acc_off.begin(), acc_off.end(), 0.0);
      for (int64_t a = 0; a < A && (on || ogv || off); ++a) {
        const double* x = &d.phi[size_t((i * A + a) * S)];
        if (need_in) gin.fit(x, mem, val, S, 1, median);
        if (need_out) gout.fit(x, mem, val, S, 0, median);
        // Fits of the group that keeps all its members (targets outside the group) are shared.
        double mu_in_all = 0, m2_in_all = 0, mu_out_all = 0, m2_out_all = 0;
        double sig_in_all = 0, sig_out_all = 0, log_sig_in_all = 0, log_sig_out_all = 0;
        // (check_fit_counts guarantees the counts each requested attack needs; a std from fewer than two
        // values is never used.)
        if (need_in && gin.n() >= 1) {
          gin.loo(-1, median, mu_in_all, m2_in_all);
          if (gin.n() >= 2) {
            sig_in_all = sigma_of(m2_in_all, gin.n(), opt.ddof);
            log_sig_in_all = std::log(sig_in_all);
          }
        }
        if (need_out && gout.n() >= 1) {
          gout.loo(-1, median, mu_out_all, m2_out_all);
          if (gout.n() >= 2) {
            sig_out_all = sigma_of(m2_out_all, gout.n(), opt.ddof);
            log_sig_out_all = std::log(sig_out_all);
          }
        }
        for (int64_t t = 0; t < S; ++t) {
          if (!tgt[t]) continue;
          const double xt = x[t];
          double mu_in = mu_in_all, sig_in = sig_in_all, log_sig_in = log_sig_in_all;
          double mu_out = mu_out_all, sig_out = sig_out_all, log_sig_out = log_sig_out_all;
          // The model each group loses in this fold (-1: none): the target from its own group and, with
          // equalized folds, one model from the other.
          int64_t drop_in = mem[t] ? t : -1, drop_out = mem[t] ? -1 : t;
          if (opt.equalize_folds) {
            if (mem[t] && need_out) drop_out = gout.model_at(fold_drop_index(i, t, gout.n()));
            if (!mem[t] && need_in) drop_in = gin.model_at(fold_drop_index(i, t, gin.n()));
          }
          if (need_in && drop_in >= 0) {
            double m2;
            int64_t n = gin.loo(drop_in, median, mu_in, m2);
            if (on && n >= 2) {
              sig_in = sigma_of(m2, n, opt.ddof);
              log_sig_in = std::log(sig_in);
            }
          }
          if (need_out && drop_out >= 0) {
            double m2;
            int64_t n = gout.loo(drop_out, median, mu_out, m2);
            if ((on || off) && n >= 2) {
              sig_out = sigma_of(m2, n, opt.ddof);
              log_sig_out = std::log(sig_out);
            }
          }
          if (on) {
            double ui = (xt - mu_in) / sig_in, uo = (xt - mu_out) / sig_out;
            acc_on[size_t(t)] += -0.5 * ui * ui - log_sig_in + 0.5 * uo * uo + log_sig_out;
          }
          if (ogv) {
            double ui = (xt - mu_in) / gs.in[size_t(t)], uo = (xt - mu_out) / gs.out[size_t(t)];
            acc_ogv[size_t(t)] += -0.5 * ui * ui - log_gs_in[size_t(t)] + 0.5 * uo * uo + log_gs_out[size_t(t)];
          }
          if (off) {
            double uo = (xt - mu_out) / sig_out;
            acc_off[size_t(t)] += opt.offline == OfflineScore::cdf ? log_ndtr(uo) : 0.5 * uo * uo + log_sig_out + kHalfLog2Pi;
          }
        }
      }
      for (int64_t t = 0; t < S; ++t) {
        if (!tgt[t]) continue;
        const size_t k = size_t(t * M + i);
        if (on) s_on[k] = acc_on[size_t(t)] / double(A);
        if (ogv) s_ogv[k] = acc_ogv[size_t(t)] / double(A);
        if (off) s_off[k] = acc_off[size_t(t)] / double(A);
        if (glob) s_glob[k] = d.phi[size_t((i * A) * S + t)];
      }
    }
  });

  std::vector<AttackScores> out;
  for (Attack a : attacks) {
    switch (a) {
      case Attack::online: out.push_back({a, std::move(s_on)}); break;
      case Attack::online_global_variance: out.push_back({a, std::move(s_ogv)}); break;
      case Attack::offline: out.push_back({a, std::move(s_off)}); break;
      case Attack::global_threshold: out.push_back({a, std::move(s_glob)}); break;
      case Attack::rmia_online:
      case Attack::rmia_offline: break;  // refused on entry
    }
  }
  return out;
}

}  // namespace sp::lira
