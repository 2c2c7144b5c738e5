// The four LiRA attacks with leave-one-model-out evaluation: for each target model t, the Gaussians of
// sample i are fitted on the other S-1 models (IN = those that trained on i, OUT = the rest), and
// score(t, i) is computed from phi of model t (mean over the A queries):
//   online                  log N(phi; mu_in, s_in) - log N(phi; mu_out, s_out), per-sample, per-query fits
//   online_global_variance  as online, but s_in (s_out) is one number per fold: the std of all IN (OUT)
//                           phi values of the fold's shadow models over all samples and queries
//   offline                 log Phi((phi - mu_out) / s_out) (one-sided; OUT models only), or with
//                           OfflineScore::pdf the original code's two-sided -log N(phi; mu_out, s_out)
//   global_threshold        phi of query 0
// mu is the mean or the median (Fit); s the std with ddof 1 (sample) or 0 (population), plus 1e-30 as in
// both reference implementations. Larger scores mean "member". The leave-one-out fits are downdated from
// the full-group fit in O(1) per target (recomputed directly when cancellation would cost precision), so
// the cost is O(S) per (sample, query), not O(S^2). Tested in tests/test_lira_attacks.cpp against a
// direct f64 implementation.
#pragma once
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "attacks/lira_data.h"

namespace sp::lira {

// rmia_online and rmia_offline are RMIA (attacks/rmia.h), scored by run_rmia from the population queries;
// run_attacks scores the four LiRA attacks of kAllAttacks.
enum class Attack { online, online_global_variance, offline, global_threshold, rmia_online, rmia_offline };
inline constexpr Attack kAllAttacks[] = {Attack::online, Attack::online_global_variance, Attack::offline,
                                         Attack::global_threshold};
inline constexpr Attack kRmiaAttacks[] = {Attack::rmia_online, Attack::rmia_offline};
inline bool is_rmia(Attack a) { return a == Attack::rmia_online || a == Attack::rmia_offline; }
std::string_view attack_name(Attack a);
Attack attack_from_name(std::string_view n);

enum class Fit { mean, median };
enum class OfflineScore { cdf, pdf };
std::string_view fit_name(Fit f);
Fit fit_from_name(std::string_view n);
std::string_view offline_score_name(OfflineScore o);
OfflineScore offline_score_from_name(std::string_view n);

struct AttackOptions {
  Fit fit = Fit::mean;
  int ddof = 1;  // 1: sample std (default), 0: population std (the original LiRA code)
  OfflineScore offline = OfflineScore::cdf;
  // Leave-one-out makes the fit sizes depend on the target's membership: a member target leaves k_in - 1
  // IN and k_out OUT shadow models, a non-member k_in and k_out - 1. Smaller fits predict worse, so even
  // without any leakage member and non-member scores differ in distribution (with S = 8: online AUC ~0.41,
  // and a spurious epsilon bound for offline). With equalize_folds, every fold of a sample also drops one
  // model of the other group (chosen by fold_drop_index), so all folds fit on k_in - 1 and k_out - 1.
  bool equalize_folds = false;
  int threads = 0;
};

// With equalize_folds: the position, among the n models of the group the target does not belong to (in
// ascending model order), of the model left out of the fold of (sample i, target t). A fixed hash, so
// results are reproducible.
int64_t fold_drop_index(int64_t i, int64_t t, int64_t n);

// Scores of one attack, [S][M] row-major (target model, sample); NaN for (model, sample) pairs dropped
// under the NaN policy.
struct AttackScores {
  Attack attack;
  std::vector<double> scores;
};

// unscored_pairs (optional) receives the number of (target, sample) pairs left unscored because dropped
// pairs (NanPolicy::drop) left their fold without enough shadow models; see check_fit_counts.
std::vector<AttackScores> run_attacks(const LiraData& d, std::span<const Attack> attacks, const AttackOptions& opt,
                                      int64_t* unscored_pairs = nullptr);

// Throws, naming the sample and the target model, when a fold lacks the shadow models an attack needs:
// online >= 2 IN and >= 2 OUT, online_global_variance >= 1 and >= 1, offline >= 2 OUT. When `scored`
// ([M][S], initialised to d.valid) is given, a fold that only falls short because of dropped pairs is
// not an error: its (target, sample) pair is marked 0 there (not scored, for every attack) and counted.
int64_t check_fit_counts(const LiraData& d, std::span<const Attack> attacks, std::vector<uint8_t>* scored = nullptr,
                         bool equalize_folds = false);

// Per fold t: the pooled IN and OUT std of online_global_variance (without the 1e-30).
struct FoldSigmas {
  std::vector<double> in, out;
};
FoldSigmas global_fold_sigmas(const LiraData& d, int ddof, int threads);

}  // namespace sp::lira
