// The sp_lira pipeline (see lira_run.h).
#include "attacks/lira_run.h"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <map>

#include "attacks/lira_report.h"
#include "attacks/parallel.h"
#include "attacks/roc_plot.h"
#include "data/atomic_file.h"
#include "data/npy.h"

namespace sp::lira {
namespace fs = std::filesystem;

namespace {

constexpr size_t kMaxGroups = 1000;

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// CPU time of the whole process (all threads).
double cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

// Group value of every (model, sample) pair, p = t * M + i, from an int [M] or [S, M] file.
std::vector<int64_t> read_groups(const std::string& path, int64_t S, int64_t M) {
  npy::Reader r(path);
  const auto& sh = r.shape();
  SP_CHECK((sh.size() == 1 && sh[0] == M) || (sh.size() == 2 && sh[0] == S && sh[1] == M), path,
           ": groups must have shape (", M, ",) or (", S, ", ", M, ") for ", S, " models and ", M, " samples, got ",
           npy::shape_str(sh));
  std::vector<int64_t> v = r.read_integers();
  std::vector<int64_t> g(size_t(S * M));
  for (int64_t t = 0; t < S; ++t)
    for (int64_t i = 0; i < M; ++i) g[size_t(t * M + i)] = sh.size() == 1 ? v[size_t(i)] : v[size_t(t * M + i)];
  return g;
}

// The number of models in the directory (all of them, whatever cfg.models selects).
int64_t count_models(const LiraConfig& cfg) {
  if (cfg.layout == Layout::synpriv) {
    int64_t n = 0;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(fs::path(cfg.dir) / "shadow", ec))
      n += e.path().filename().string()[0] != '.';
    return n;
  }
  return int64_t(find_experiment(cfg.dir, cfg.layout).models.size());
}

std::vector<int64_t> select_model_rows(const std::vector<int64_t>& g, const std::vector<int64_t>& ids, int64_t M) {
  std::vector<int64_t> v;
  for (int64_t t : ids) {
    SP_CHECK(t >= 0 && size_t((t + 1) * M) <= g.size(), "sp_lira: model ", t, " outside the groups file");
    v.insert(v.end(), g.begin() + t * M, g.begin() + (t + 1) * M);
  }
  return v;
}

// Why the automatic RMIA attacks cannot run on `files` ("" when they can).
std::string rmia_unavailable(const ExperimentFiles& files, const RmiaOptions& o) {
  if (files.population_labels.empty()) return "no population queries (population/labels.npy)";
  for (const ModelFiles& m : files.models)
    if (m.population_logits.empty()) return m.dir + " has no population_logits.npy";
  int64_t p = npy::Reader(files.population_labels).numel();
  if (o.population > 0) p = std::min(p, o.population);
  if (p < o.min_population)
    return std::to_string(p) + " population samples, below the minimum of " + std::to_string(o.min_population);
  return "";
}

void check_config(const LiraConfig& c) {
  SP_CHECK(!c.attacks.empty(), "sp_lira: no attacks selected");
  for (Attack a : c.attacks)
    SP_CHECK(std::count(c.attacks.begin(), c.attacks.end(), a) == 1, "sp_lira: attack ", attack_name(a), " listed twice");
  SP_CHECK(c.delta >= 0 && c.delta < 1, "sp_lira: --delta must be in [0, 1), got ", c.delta);
  SP_CHECK(c.one_run_confidence > 0 && c.one_run_confidence < 1, "sp_lira: --one-run-confidence must be in (0, 1), got ",
           c.one_run_confidence);
  SP_CHECK(c.bootstrap >= 0, "sp_lira: --bootstrap must be >= 0, got ", c.bootstrap);
  SP_CHECK(c.attack.ddof == 0 || c.attack.ddof == 1, "sp_lira: ddof must be 0 or 1");
}

// add_bootstrap for each set of attacks that score the same pairs: shared (paired) replicates need equal
// pair sets, and an attack may leave pairs unscored (NaN) that the others score, e.g. RMIA without enough
// reference models (all its pairs, with two shadow models), so each such set gets replicates of its own.
void bootstrap_by_scored_pairs(std::span<Metrics* const> metrics, std::span<const BootstrapTarget> targets,
                               std::span<const uint8_t> labels, int64_t M, const MetricsOptions& opt) {
  std::vector<std::vector<int64_t>> pairs;  // each target's scored pairs, sorted
  for (const BootstrapTarget& t : targets) {
    pairs.emplace_back(t.order.begin(), t.order.end());
    std::sort(pairs.back().begin(), pairs.back().end());
  }
  std::vector<uint8_t> taken(targets.size(), 0);
  for (size_t k = 0; k < targets.size(); ++k) {
    if (taken[k]) continue;
    std::vector<Metrics*> ms;
    std::vector<BootstrapTarget> ts;
    for (size_t j = k; j < targets.size(); ++j)
      if (!taken[j] && pairs[j] == pairs[k]) {
        taken[j] = 1;
        ms.push_back(metrics[j]);
        ts.push_back(targets[j]);
      }
    add_bootstrap(ms, ts, labels, M, opt);
  }
}

}  // namespace

std::vector<AttackResult> evaluate_attacks(std::span<const AttackScores> scores, std::span<const uint8_t> labels,
                                           int64_t S, int64_t M, const LiraConfig& cfg, int threads,
                                           std::span<const int64_t> groups, std::span<const uint8_t> valid) {
  SP_CHECK(S >= 1 && M >= 1 && int64_t(labels.size()) == S * M, "evaluate_attacks: ", labels.size(),
           " labels for S = ", S, " models and M = ", M, " samples");
  SP_CHECK(groups.empty() || groups.size() == labels.size(), "evaluate_attacks: ", groups.size(), " group values for ",
           labels.size(), " pairs");
  SP_CHECK(valid.empty() || valid.size() == labels.size(), "evaluate_attacks: ", valid.size(), " validity flags for ",
           labels.size(), " pairs");
  for (const AttackScores& as : scores)
    SP_CHECK(int64_t(as.scores.size()) == S * M, "evaluate_attacks: ", attack_name(as.attack), " has ",
             as.scores.size(), " scores for S = ", S, " models and M = ", M, " samples");
  std::map<int64_t, size_t> group_slot;
  if (!groups.empty()) {
    for (size_t p = 0; p < groups.size(); ++p)
      if (valid.empty() || valid[size_t((int64_t(p) % M) * S + int64_t(p) / M)]) group_slot.emplace(groups[p], 0);
    SP_CHECK(group_slot.size() <= kMaxGroups, cfg.groups, ": ", group_slot.size(), " distinct group values (at most ",
             kMaxGroups, " supported; groups are categories such as 0/1, not per-sample ids)");
    size_t k = 0;
    for (auto& [v, slot] : group_slot) slot = k++;
  }
  MetricsOptions mo;
  mo.delta = cfg.delta;
  mo.bootstrap = cfg.bootstrap;
  mo.seed = cfg.seed;
  mo.threads = threads;
  // orders[k]: attack k's pairs by descending score; group_orders[k][g]: the same, restricted to group g.
  // Attacks are evaluated concurrently; each evaluation is single-threaded.
  const size_t n_att = scores.size();
  std::vector<std::vector<int64_t>> orders(n_att);
  std::vector<std::vector<std::vector<int64_t>>> group_orders(n_att);
  std::vector<AttackResult> out(n_att);
  parallel_tasks(int64_t(n_att), threads, [&](int64_t k, int) {
    const AttackScores& as = scores[size_t(k)];
    AttackResult& ar = out[size_t(k)];
    ar.attack = as.attack;
    orders[size_t(k)] = order_desc(as.scores);
    ar.overall = evaluate(as.scores, labels, orders[size_t(k)], mo, true);
    auto& go = group_orders[size_t(k)];
    go.resize(group_slot.size());
    if (!groups.empty()) {
      for (int64_t p : orders[size_t(k)]) go[group_slot.at(groups[size_t(p)])].push_back(p);
      for (const auto& [v, slot] : group_slot) ar.groups.push_back({v, evaluate(as.scores, labels, go[slot], mo, false)});
    }
  });
  // One-run audits: each target model on its own, from its row of scores.
  OneRunOptions oro;
  oro.delta = cfg.delta;
  oro.confidence = cfg.one_run_confidence;
  for (AttackResult& ar : out) {
    ar.one_run.resize(size_t(S));
    ar.one_run_valid = ar.attack == Attack::global_threshold || cfg.attack.equalize_folds;
  }
  parallel_tasks(int64_t(n_att) * S, threads, [&](int64_t task, int) {
    const int64_t k = task / S, t = task % S;
    std::span<const double> row(scores[size_t(k)].scores.data() + t * M, size_t(M));
    std::span<const uint8_t> member(labels.data() + t * M, size_t(M));
    out[size_t(k)].one_run[size_t(t)] = one_run_audit(row, member, oro);
  });
  // Bootstrap intervals from replicates shared by the attacks (overall, then per group).
  std::vector<Metrics*> ms;
  std::vector<BootstrapTarget> targets;
  for (size_t k = 0; k < n_att; ++k) {
    ms.push_back(&out[k].overall);
    targets.push_back({scores[k].scores, orders[k]});
  }
  bootstrap_by_scored_pairs(ms, targets, labels, M, mo);
  for (size_t g = 0; g < group_slot.size(); ++g) {
    ms.clear();
    targets.clear();
    for (size_t k = 0; k < n_att; ++k) {
      ms.push_back(&out[k].groups[g].second);
      targets.push_back({scores[k].scores, group_orders[k][g]});
    }
    bootstrap_by_scored_pairs(ms, targets, labels, M, mo);
  }
  return out;
}

LiraResult run_lira(const LiraConfig& cfg) {
  check_config(cfg);
  const int threads = resolve_threads(cfg.threads);
  const std::string out_dir = cfg.out_dir.empty() ? (fs::path(cfg.dir) / "lira").string() : cfg.out_dir;
  LiraResult res;

  auto t0 = std::chrono::steady_clock::now();
  double c0 = cpu_seconds();
  ExperimentFiles files = find_experiment(cfg.dir, cfg.layout, cfg.models);
  std::vector<int64_t> groups;
  if (!cfg.groups.empty()) {
    // Checked before the heavy read, so a wrong groups file fails fast.
    npy::Reader lab(files.labels);
    // An [S, M] groups file has a row for every model of the directory, selected ones or not.
    int64_t all_models = cfg.models.empty() ? int64_t(files.models.size()) : count_models(cfg);
    groups = read_groups(cfg.groups, all_models, lab.numel());
    if (!cfg.models.empty()) groups = select_model_rows(groups, cfg.models, lab.numel());
  }
  LoadOptions lo;
  lo.statistic = cfg.statistic;
  lo.views = cfg.views;
  lo.nan_policy = cfg.nan_policy;
  lo.threads = threads;
  LiraData d = load_experiment(files, lo);
  res.S = d.S;
  res.M = d.M;
  res.A = d.A;
  res.C = d.C;
  res.file_views = d.file_views;
  res.query_views = files.query_views;
  res.dropped_pairs = d.dropped_pairs;
  res.nonfinite_logits = d.nonfinite_logits;
  res.model_names = d.model_names;
  res.seconds_load = seconds_since(t0);
  res.cpu_load = cpu_seconds() - c0;

  t0 = std::chrono::steady_clock::now();
  c0 = cpu_seconds();
  AttackOptions ao = cfg.attack;
  ao.threads = threads;
  std::vector<Attack> lira_attacks, rmia_attacks;
  for (Attack a : cfg.attacks) (is_rmia(a) ? rmia_attacks : lira_attacks).push_back(a);
  if (rmia_attacks.empty() && cfg.rmia_when_available) {
    std::string why = rmia_unavailable(files, cfg.rmia);
    if (why.empty()) rmia_attacks.assign(std::begin(kRmiaAttacks), std::end(kRmiaAttacks));
    else res.rmia_note = why;
  }
  std::vector<AttackScores> scores;
  if (!lira_attacks.empty()) scores = run_attacks(d, lira_attacks, ao, &res.unscored_pairs);
  if (!rmia_attacks.empty()) {
    const bool asked = std::any_of(cfg.attacks.begin(), cfg.attacks.end(), is_rmia);
    RmiaOptions ro = cfg.rmia;
    ro.threads = threads;
    ro.nan_policy = cfg.nan_policy;
    ro.equalize_folds = cfg.attack.equalize_folds;
    ro.views = cfg.views;
    try {
      RmiaData rd = load_rmia_data(files, ro);
      RmiaScores rs = run_rmia(rd, rmia_attacks, ro);
      res.population = rd.P;
      res.rmia_unscored_pairs = rs.unscored_pairs;
      res.rmia_dropped_population_pairs = rd.dropped_population_pairs;
      res.rmia_a = rs.a_used;
      for (AttackScores& as : rs.attacks) scores.push_back(std::move(as));
    } catch (const std::exception& e) {
      // Asked for by name, RMIA's failure is the run's; added automatically, it must not cost the LiRA
      // results, and the reason goes into results.json and the table.
      if (asked) throw;
      res.rmia_note = std::string("failed: ") + e.what();
    }
  }
  const int64_t S = d.S, M = d.M;
  std::vector<uint8_t> labels(size_t(S * M));
  for (int64_t t = 0; t < S; ++t)
    for (int64_t i = 0; i < M; ++i) labels[size_t(t * M + i)] = d.member[size_t(i * S + t)];
  // phi is no longer needed; release it before sorting so peak memory stays at the load phase's.
  std::vector<double>().swap(d.phi);
  res.seconds_attacks = seconds_since(t0);
  res.cpu_attacks = cpu_seconds() - c0;

  t0 = std::chrono::steady_clock::now();
  c0 = cpu_seconds();
  res.attacks = evaluate_attacks(scores, labels, S, M, cfg, threads, groups, d.valid);
  res.has_groups = !groups.empty();
  res.seconds_metrics = seconds_since(t0);
  res.cpu_metrics = cpu_seconds() - c0;

  t0 = std::chrono::steady_clock::now();
  c0 = cpu_seconds();
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  SP_CHECK(!ec, out_dir, ": cannot create output directory: ", ec.message());
  const std::vector<int64_t> sm{S, M};
  for (size_t k = 0; k < scores.size(); ++k) {
    std::string name(attack_name(scores[k].attack));
    std::string sp = (fs::path(out_dir) / ("scores_" + name + ".npy")).string();
    npy::write(sp, sm, scores[k].scores);
    std::string cp = (fs::path(out_dir) / ("roc_" + name + ".csv")).string();
    write_file_atomic(cp, roc_csv(res.attacks[k].overall));
    res.written.push_back(sp);
    res.written.push_back(cp);
  }
  if (cfg.plot) {
    std::vector<PlotCurve> curves;
    for (const AttackResult& ar : res.attacks) {
      PlotCurve pc;
      const Metrics& m = ar.overall;
      char buf[160];
      std::snprintf(buf, sizeof buf, "%s\tAUC %.3f\tTPR at 0.1%% FPR: %.2f%%", std::string(attack_name(ar.attack)).c_str(),
                    m.auc, 100 * m.tpr_at_fpr[2].second);
      pc.label = buf;
      for (const RocPoint& p : m.curve) {
        pc.fpr.push_back(m.N ? double(p.fp) / double(m.N) : 0.0);
        pc.tpr.push_back(m.P ? double(p.tp) / double(m.P) : 0.0);
      }
      curves.push_back(std::move(pc));
    }
    std::string title = std::string(res.population > 0 ? "LiRA and RMIA ROC: " : "LiRA ROC: ") + std::to_string(S) + " models, " + std::to_string(M) + " samples, " +
                        std::to_string(d.A) + (d.A == 1 ? " query" : " queries");
    for (const std::string& p : write_roc_plot((fs::path(out_dir) / "roc").string(), curves, title)) res.written.push_back(p);
  }
  std::string jp = (fs::path(out_dir) / "results.json").string();
  write_file_atomic(jp, results_json(res, cfg).dump(2) + "\n");
  res.written.push_back(jp);
  res.seconds_write = seconds_since(t0);
  res.cpu_write = cpu_seconds() - c0;
  return res;
}

std::string run_lira_falling_back(LiraConfig cfg) {
  const std::vector<std::vector<Attack>> tries = {
      cfg.attacks,
      {Attack::online_global_variance, Attack::offline, Attack::global_threshold},
      {Attack::global_threshold}};
  std::string error;
  for (const auto& attacks : tries) {
    cfg.attacks = attacks;
    try {
      run_lira(cfg);
      return "";
    } catch (const std::exception& e) {
      if (error.empty()) error = e.what();
    }
  }
  return error;
}

}  // namespace sp::lira
