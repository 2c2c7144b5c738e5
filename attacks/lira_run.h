// The whole sp_lira pipeline: load an experiment directory, run the requested attacks with
// leave-one-model-out fits, evaluate the pooled ROC (overall and per group), and write results.json,
// scores_<attack>.npy, roc_<attack>.csv and roc.png. tools/sp_lira.cpp is a thin CLI over run_lira.
// Tested end to end in tests/test_lira_cli.cpp.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "attacks/lira_attacks.h"
#include "attacks/lira_data.h"
#include "attacks/lira_metrics.h"
#include "attacks/one_run_audit.h"
#include "attacks/rmia.h"

namespace sp::lira {

struct LiraConfig {
  std::string dir;
  std::string out_dir;  // default: dir/lira
  Layout layout = Layout::synpriv;
  std::vector<Attack> attacks{std::begin(kAllAttacks), std::end(kAllAttacks)};
  // Also run both RMIA attacks when every selected model has population queries with at least
  // rmia.min_population samples (attacks naming rmia explicitly require them instead).
  bool rmia_when_available = true;
  RmiaOptions rmia;
  Statistic statistic = Statistic::logit;
  // Query views every attack uses (indices into the A views of the logits; empty: all). A model trained
  // without augmentation is best queried on the clean view alone ({0}): the shifted views add noise.
  std::vector<int64_t> views;
  AttackOptions attack;  // fit, ddof, offline score
  NanPolicy nan_policy = NanPolicy::error;
  std::string groups;    // optional int [M] or [S, M] .npy
  // Only these models (indices into the directory's models, ascending; empty: all). sp_audit attacks the
  // finished shadows of an experiment whose other shadows failed or are still missing.
  std::vector<int64_t> models;
  double delta = 1e-5;
  double one_run_confidence = 0.95;
  int bootstrap = 1000;  // replicates for the TPR@0.1%FPR interval; 0 disables
  uint64_t seed = 0;
  int threads = 0;       // 0: all cores
  bool plot = true;
};

struct AttackResult {
  Attack attack;
  Metrics overall;
  // The one-run epsilon lower bound (attacks/one_run_audit.h) of each target model from its own scores, at
  // LiraConfig::delta and one_run_confidence.
  std::vector<OneRunResult> one_run;
  // The one-run theorem needs guesses that do not depend on the target's own inclusion. The global threshold
  // uses the target's output alone; the reference-based attacks qualify only with equalized folds, since
  // otherwise the leave-one-out reference counts differ with the target's membership (docs/lira.md).
  bool one_run_valid = false;
  std::vector<std::pair<int64_t, Metrics>> groups;  // by group value, ascending
};

struct LiraResult {
  int64_t S = 0, M = 0, A = 0, C = 0;
  int64_t file_views = 0;   // query views per sample in the logits (A: those the attacks used)
  std::string query_views;  // what they are (ExperimentFiles::query_views; empty: not named)
  int64_t dropped_pairs = 0, nonfinite_logits = 0;
  int64_t unscored_pairs = 0;  // folds left without enough shadow models by dropped pairs
  int64_t population = 0;      // RMIA's population samples (0: RMIA not run)
  int64_t rmia_unscored_pairs = 0, rmia_dropped_population_pairs = 0;
  std::vector<double> rmia_a;  // the a of each target model (calibrated or fixed)
  std::string rmia_note;       // why RMIA did not run when it was not asked for explicitly
  std::vector<std::string> model_names;
  std::vector<AttackResult> attacks;
  bool has_groups = false;
  std::vector<std::string> written;  // output files
  // Wall-clock and process CPU seconds per phase.
  double seconds_load = 0, seconds_attacks = 0, seconds_metrics = 0, seconds_write = 0;
  double cpu_load = 0, cpu_attacks = 0, cpu_metrics = 0, cpu_write = 0;
};

LiraResult run_lira(const LiraConfig& cfg);

// run_lira's metrics phase, also for scores computed elsewhere (the Python module): for each attack's scores
// ([S][M], row = target model, NaN = not scored) against labels ([S][M], 1 = member), the pooled metrics with the
// thinned ROC, each target model's one-run bound from its row, the bootstrap interval from replicates shared by
// the attacks and, with `groups` (a value per pair p = t * M + i), the same per group value over the pairs whose
// valid[i * S + t] is set (all when `valid` is empty). Uses cfg's delta, one_run_confidence, bootstrap, seed and
// attack.equalize_folds (which makes the reference-based one-run bounds valid).
std::vector<AttackResult> evaluate_attacks(std::span<const AttackScores> scores, std::span<const uint8_t> labels,
                                           int64_t S, int64_t M, const LiraConfig& cfg, int threads,
                                           std::span<const int64_t> groups = {}, std::span<const uint8_t> valid = {});

// run_lira with cfg's attacks, then, where a fit fails (too few shadow models for per-sample variances), with the
// global-variance online, offline and global-threshold attacks, then the global threshold alone. Returns "" on
// success, else the first attempt's error. For experiment-level attacks a pipeline runs on its own (sp_train's end
// of run) where an error must not fail the run.
std::string run_lira_falling_back(LiraConfig cfg);

}  // namespace sp::lira
