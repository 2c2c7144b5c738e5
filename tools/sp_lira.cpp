// sp_lira: LiRA membership inference on an experiment directory (issue 5). Parses the command line,
// runs attacks/lira_run.h and prints the table; every bad input, CLI usage errors included, ends with a
// message naming the file and index and exit status 1 (paradigms/audit/exit_status.h; sp_lira has no partial
// result: every requested attack ran, or none was written). Tested end to end by tests/test_lira_cli.cpp.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <sstream>

#include "attacks/lira_report.h"
#include "attacks/lira_run.h"
#include "paradigms/audit/exit_status.h"

using namespace sp;
using namespace sp::lira;

namespace {

std::vector<Attack> parse_attacks(const std::string& list) {
  std::vector<Attack> v;
  std::stringstream ss(list);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item.empty()) continue;
    if (item == "all") {
      for (Attack a : kAllAttacks)
        if (std::find(v.begin(), v.end(), a) == v.end()) v.push_back(a);
      continue;
    }
    Attack a = attack_from_name(item);
    SP_CHECK(std::find(v.begin(), v.end(), a) == v.end(), "--attacks: '", item, "' listed twice");
    v.push_back(a);
  }
  SP_CHECK(!v.empty(), "--attacks: empty list");
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "LiRA membership inference (leave-one-model-out over all S models, pooled ROC).\n"
      "Reads DIR/audit/labels.npy and DIR/shadow/<k>/{keep,logits}.npy (or the tensorflow-privacy\n"
      "mi_lira_2021 layout) and writes results.json, scores_<attack>.npy, roc_<attack>.csv, roc.png and roc.svg.\n"
      "With population queries (DIR/population/, shadow/<k>/population_logits.npy) RMIA runs as well."};
  LiraConfig cfg;
  std::string attacks = "all", layout = "synpriv", statistic = "logit", fit = "mean", stdev = "sample",
              offline = "cdf", preset, nan_policy = "error";
  bool no_plot = false, quiet = false;
  app.add_option("DIR", cfg.dir, "experiment directory")->required();
  app.add_option("--out", cfg.out_dir, "output directory (default DIR/lira)");
  app.add_option("--layout", layout, "on-disk layout")->check(CLI::IsMember({"synpriv", "tf-privacy"}))->capture_default_str();
  app.add_option("--attacks", attacks,
                 "comma-separated subset of online, online_global_variance, offline, global_threshold, rmia_online, "
                 "rmia_offline; all: the four LiRA attacks, plus both RMIA attacks when the experiment has "
                 "population queries")
      ->capture_default_str();
  std::string rmia_a = "0.33";
  app.add_option("--rmia-gamma", cfg.rmia.gamma, "RMIA: a population sample z counts when LR(x, z) >= gamma")
      ->capture_default_str();
  app.add_option("--rmia-a", rmia_a,
                 "RMIA: a of Pr_IN(x) ~ a Pr_OUT(x) + 1 - a (offline attack and Pr(z)), or 'calibrate' to choose "
                 "it per target on a paired reference model")
      ->capture_default_str();
  app.add_option("--rmia-temperature", cfg.rmia.temperature, "RMIA: softmax temperature of Pr(x|theta)")
      ->capture_default_str();
  app.add_option("--rmia-population", cfg.rmia.population, "RMIA: use the first N population samples (0: all)")
      ->capture_default_str();
  app.add_option("--rmia-min-population", cfg.rmia.min_population,
                 "RMIA: refuse fewer population samples (a score moves in steps of 1/P)")
      ->capture_default_str();
  app.add_option("--statistic", statistic, "logit: z_y - logsumexp_{j!=y} z_j; hinge: z_y - max_{j!=y} z_j")
      ->check(CLI::IsMember({"logit", "hinge"}))
      ->capture_default_str();
  auto* fit_opt = app.add_option("--fit", fit, "Gaussian centre: mean or median")
                      ->check(CLI::IsMember({"mean", "median"}))
                      ->capture_default_str();
  auto* std_opt = app.add_option("--std", stdev, "std estimator: sample (ddof 1) or population (ddof 0)")
                      ->check(CLI::IsMember({"sample", "population"}))
                      ->capture_default_str();
  auto* off_opt = app.add_option("--offline-score", offline,
                                 "offline score: cdf = log Phi((phi - mu_out)/s_out) (one-sided, the paper); "
                                 "pdf = -log N(phi; mu_out, s_out) (two-sided, the original code)")
                      ->check(CLI::IsMember({"cdf", "pdf"}))
                      ->capture_default_str();
  app.add_option("--preset", preset,
                 "carlini: the original LiRA code's choices (--fit median --std population --offline-score pdf); "
                 "options given explicitly still win")
      ->check(CLI::IsMember({"carlini"}));
  app.add_option("--groups", cfg.groups, "int .npy of shape [M] or [S, M]: metrics also per group value");
  app.add_option("--views", cfg.views,
                 "query views to use (comma-separated indices into the A views; default all), e.g. 0 for the clean "
                 "image of a model trained without augmentation")
      ->delimiter(',');
  app.add_option("--models", cfg.models, "only these models (comma-separated indices, ascending), e.g. the finished ones")
      ->delimiter(',');
  app.add_option("--delta", cfg.delta, "delta of the epsilon lower bounds (LiRA ROC and one-run)")->capture_default_str();
  app.add_option("--one-run-confidence", cfg.one_run_confidence,
                 "confidence of each model's one-run epsilon lower bound (Steinke, Nasr, Jagielski 2023)")
      ->capture_default_str();
  app.add_option("--bootstrap", cfg.bootstrap, "bootstrap replicates for the TPR@0.1%FPR interval (0: off)")
      ->capture_default_str();
  app.add_option("--seed", cfg.seed, "bootstrap seed")->capture_default_str();
  app.add_option("--nan-policy", nan_policy,
                 "non-finite logits: error, or drop the (model, sample) pair and count it")
      ->check(CLI::IsMember({"error", "drop"}))
      ->capture_default_str();
  app.add_option("--threads", cfg.threads, "worker threads (0: all cores)")->capture_default_str();
  app.add_flag("--equalize-folds", cfg.attack.equalize_folds,
               "fit every fold on (IN - 1, OUT - 1) shadow models, whatever the target's membership, by also "
               "leaving out one model of the other group; removes the leave-one-out bias at small S");
  app.add_flag("--no-plot", no_plot, "do not write roc.png and roc.svg");
  app.add_flag("--quiet", quiet, "print only errors");
  SP_CLI_PARSE(app, argc, argv);

  try {
    if (preset == "carlini") {
      if (!fit_opt->count()) fit = "median";
      if (!std_opt->count()) stdev = "population";
      if (!off_opt->count()) offline = "pdf";
    }
    cfg.layout = layout_from_name(layout);
    cfg.attacks = parse_attacks(attacks);
    // An explicit list is exactly what runs; "all" adds RMIA where the experiment allows it.
    cfg.rmia_when_available = attacks == "all";
    if (rmia_a == "calibrate") {
      cfg.rmia.calibrate_a = true;
    } else {
      size_t used = 0;
      try {
        cfg.rmia.a = std::stod(rmia_a, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      SP_CHECK(used == rmia_a.size() && cfg.rmia.a >= 0 && cfg.rmia.a <= 1, "--rmia-a: '", rmia_a,
               "' is neither a number in [0, 1] nor 'calibrate'");
    }
    cfg.statistic = statistic_from_name(statistic);
    cfg.attack.fit = fit_from_name(fit);
    cfg.attack.ddof = stdev == "sample" ? 1 : 0;
    cfg.attack.offline = offline_score_from_name(offline);
    cfg.nan_policy = nan_policy_from_name(nan_policy);
    cfg.plot = !no_plot;
    LiraResult r = run_lira(cfg);
    if (!quiet) {
      std::cout << format_table(r, cfg);
      std::printf("time (wall / cpu): load %.2f / %.2f s, attacks %.2f / %.2f s, metrics %.2f / %.2f s, write %.2f / %.2f s\n",
                  r.seconds_load, r.cpu_load, r.seconds_attacks, r.cpu_attacks, r.seconds_metrics, r.cpu_metrics,
                  r.seconds_write, r.cpu_write);
      for (const std::string& f : r.written) std::cout << "wrote " << f << "\n";
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sp_lira: error: %s\n", e.what());
    return kExitError;
  }
  return kExitOk;
}
