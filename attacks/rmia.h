// RMIA (Zarifzadeh, Liu, Shokri, "Low-Cost High-Power Membership Inference Attacks", ICML 2024) with
// leave-one-model-out evaluation like the LiRA attacks: target model t is attacked with the other models as
// references. With Pr(x|θ) the softmax probability of x's label at temperature T, for each query view v:
//   Pr(x_v) = (Pr_IN(x_v) + Pr_OUT(x_v)) / 2            online: means over the IN and the OUT references
//   Pr(x_v) = ((1 + a) Pr_OUT(x_v) + 1 - a) / 2          offline: OUT references only, with the paper's
//                                                        linear approximation Pr_IN ≈ a Pr_OUT + 1 - a
//   LR_v(x, z) = (Pr(x_v|θ_t) / Pr(x_v)) / (Pr(z_v|θ_t) / Pr(z_v))
// and score(x) = the fraction of population samples z for which LR_v(x, z) >= γ holds in a strict majority of
// the views (the reference code's vote over augmentations; one view: the plain test). Population samples are
// never trained on, so their references are all OUT and Pr(z) takes the offline form in both modes (the
// expected Pr over references of which half would hold z). Defaults are those of the authors' CIFAR-10
// configurations (privacy_meter research/2023_rmia): γ = 2, a = 0.33, T = 1 (the paper's Pr(x|θ)). With
// `calibrate_a`, a is chosen per target as the authors do (privacy_meter's tune_offline_a): the offline
// attack with a in {0, 0.1, ..., 1} on a paired reference model (t xor 1, or the next model) with the remaining
// references, keeping the a of the highest AUC; the target's own membership never enters the choice.
// Tested in tests/test_rmia.cpp against an independent NumPy implementation (tests/python/rmia_reference.py)
// and end to end in tests/test_lira_cli.cpp.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "attacks/lira_attacks.h"
#include "attacks/lira_data.h"

namespace sp::lira {

struct RmiaOptions {
  double gamma = 2.0;
  double a = 0.33;
  bool calibrate_a = false;
  double temperature = 1.0;
  int64_t population = 0;        // use the first N population samples (0: all)
  int64_t min_population = 100;  // scores are multiples of 1/P: fewer samples give too coarse a score
  // As the LiRA attacks' equalize_folds: every fold also leaves out one reference of the group the target is
  // not in, so the IN/OUT reference counts are the same whatever the target's membership.
  bool equalize_folds = false;
  std::vector<int64_t> views;  // query views to use (empty: all), as LoadOptions::views
  NanPolicy nan_policy = NanPolicy::error;
  int threads = 0;
};

// log Pr(label | θ, x) of the query views of every sample, for every model.
struct RmiaData {
  int64_t S = 0, M = 0, P = 0, A = 0;
  std::vector<double> logp_x;     // [M][A][S]
  std::vector<double> logp_z;     // [P][A][S]
  std::vector<uint8_t> member;    // [M][S]
  std::vector<uint8_t> valid_x;   // [M][S] 0: a (model, sample) pair with non-finite logits (NanPolicy::drop)
  std::vector<uint8_t> valid_z;   // [P][S] 0: a (model, population sample) pair with non-finite logits
  int64_t dropped_population_pairs = 0;
};

// Reads the audit and population logits of `files` (the synpriv layout with population queries; the labels
// from files.population_labels). Throws naming the file when the population is missing, too small, or does
// not match the audit logits (queries, classes).
RmiaData load_rmia_data(const ExperimentFiles& files, const RmiaOptions& opt);

// Tests and the Python module: log-probabilities given directly, [S][M][A] and [S][P][A]; keep [S][M]; read in
// place. A pair with a non-finite log-probability is marked invalid (valid_x / valid_z 0).
RmiaData make_rmia_data(int64_t S, int64_t M, int64_t P, int64_t A, std::span<const double> logp_x_sma,
                        std::span<const double> logp_z_spa, std::span<const uint8_t> keep_sm);
inline RmiaData make_rmia_data(int64_t S, int64_t M, int64_t P, int64_t A, const std::vector<double>& logp_x_sma,
                               const std::vector<double>& logp_z_spa, const std::vector<uint8_t>& keep_sm) {
  return make_rmia_data(S, M, P, A, std::span<const double>(logp_x_sma), std::span<const double>(logp_z_spa),
                        std::span<const uint8_t>(keep_sm));
}

struct RmiaScores {
  std::vector<AttackScores> attacks;  // [S][M] each, NaN where not scored
  std::vector<double> a_used;         // per target model (the calibrated a, or opt.a)
  int64_t unscored_pairs = 0;         // folds without the references a mode needs
};

// `attacks`: Attack::rmia_online and/or Attack::rmia_offline.
RmiaScores run_rmia(const RmiaData& d, std::span<const Attack> attacks, const RmiaOptions& opt);

// log softmax(z / T)[y] of one logit row; NaN when a logit is not finite or y is out of range.
double label_log_prob(const float* z, int64_t C, int64_t y, double temperature);
double label_log_prob(const double* z, int64_t C, int64_t y, double temperature);

}  // namespace sp::lira
