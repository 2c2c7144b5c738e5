// results.json, ROC CSV and the console table (see lira_report.h).
#include "attacks/lira_report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "data/query_views.h"

namespace sp::lira {
namespace {

// Which query views the logits hold and how many the attacks used; "" for results not read from files.
std::string views_line(const LiraResult& r, const LiraConfig& cfg) {
  if (r.file_views <= 0) return "";
  std::string s = "query views: ";
  if (auto v = data::query_views_from_name(r.query_views))
    s += "audit.query_views = " + r.query_views + " (" + std::to_string(r.file_views) + " per sample: " +
         data::query_views_description(*v) + ")";
  else
    s += std::to_string(r.file_views) + " per sample (" +
         (cfg.layout == Layout::synpriv ? "no config.json names them" : "not named in this layout") + ")";
  if (r.A != r.file_views) s += "; --views uses " + std::to_string(r.A) + " of them";
  return s + "\n";
}

// NaN (undefined metric, e.g. a group without non-members) becomes JSON null.
nlohmann::ordered_json num(double v) { return std::isfinite(v) ? nlohmann::ordered_json(v) : nlohmann::ordered_json(); }

std::string pct(double v) {
  if (!std::isfinite(v)) return "n/a";
  char b[32];
  std::snprintf(b, sizeof b, "%.2f%%", 100 * v);
  return b;
}

std::string fixed(double v, int digits) {
  if (!std::isfinite(v)) return "n/a";
  char b[32];
  std::snprintf(b, sizeof b, "%.*f", digits, v);
  return b;
}

void append_g(std::string& s, double v, int prec) {
  char b[40];
  std::snprintf(b, sizeof b, "%.*g", prec, v);
  s += b;
}

std::string pad(std::string s, size_t w, bool left = false) {
  if (s.size() >= w) return s;
  return left ? s + std::string(w - s.size(), ' ') : std::string(w - s.size(), ' ') + s;
}

void table_rows(std::string& out, const std::string& prefix, const std::vector<std::pair<std::string, const Metrics*>>& rows) {
  for (const auto& [name, m] : rows) {
    std::string line = pad(prefix + name, 28, true) + pad(fixed(m->auc, 4), 8) + pad(fixed(m->balanced_accuracy, 4), 9);
    for (const auto& [f, t] : m->tpr_at_fpr) line += pad(pct(t), 9);
    line += pad(fixed(m->epsilon.epsilon, 3), 8);
    if (m->bootstrap && m->bootstrap->replicates > 0)
      line += "   [" + pct(m->bootstrap->lo) + ", " + pct(m->bootstrap->hi) + "]";
    line += "   " + std::to_string(m->P) + "/" + std::to_string(m->N);
    out += line + "\n";
  }
}

// Median, min and max of the models' one-run bounds (NaN for none).
struct OneRunSpread {
  double median = NAN, min = NAN, max = NAN;
};
OneRunSpread one_run_spread(const std::vector<OneRunResult>& v) {
  std::vector<double> e;
  for (const OneRunResult& o : v) e.push_back(o.epsilon);
  if (e.empty()) return {};
  std::sort(e.begin(), e.end());
  const size_t n = e.size();
  return {n % 2 ? e[n / 2] : (e[n / 2 - 1] + e[n / 2]) / 2, e.front(), e.back()};
}

}  // namespace

nlohmann::ordered_json metrics_json(const Metrics& m) {
  nlohmann::ordered_json j;
  j["auc"] = num(m.auc);
  j["balanced_accuracy"] = num(m.balanced_accuracy);
  nlohmann::ordered_json t = nlohmann::ordered_json::array();
  for (const auto& [f, v] : m.tpr_at_fpr) {
    nlohmann::ordered_json e;
    e["fpr"] = f;
    e["tpr"] = num(v);
    t.push_back(e);
  }
  j["tpr_at_fpr"] = t;
  j["epsilon_lower_bound"] = num(m.epsilon.epsilon);
  j["n_members"] = m.P;
  j["n_nonmembers"] = m.N;
  if (m.bootstrap) {
    nlohmann::ordered_json b;
    b["fpr"] = 1e-3;
    b["replicates"] = m.bootstrap->replicates;
    if (m.bootstrap->replicates > 0)
      b["tpr_ci95"] = {m.bootstrap->lo, m.bootstrap->hi};
    else
      b["tpr_ci95"] = nullptr;
    j["bootstrap"] = b;
  }
  return j;
}

nlohmann::ordered_json one_run_json(const std::vector<OneRunResult>& v, bool valid) {
  nlohmann::ordered_json j;
  j["valid"] = valid;
  if (!valid) j["caveat"] = kOneRunCaveat;
  nlohmann::ordered_json per = nlohmann::ordered_json::array();
  for (const OneRunResult& o : v) {
    per.push_back({{"epsilon", o.epsilon}, {"m", o.m}, {"k_pos", o.best.k_pos}, {"k_neg", o.best.k_neg},
                   {"guesses", o.best.r}, {"correct", o.best.v}});
  }
  const OneRunSpread sp = one_run_spread(v);
  j["median"] = num(sp.median);
  j["min"] = num(sp.min);
  j["max"] = num(sp.max);
  if (!v.empty()) {
    j["confidence"] = 1 - v[0].p_level;
    j["delta"] = v[0].delta;
    j["candidates"] = v[0].candidates;
  }
  j["per_model"] = per;
  return j;
}

nlohmann::ordered_json results_json(const LiraResult& r, const LiraConfig& cfg) {
  nlohmann::ordered_json j;
  j["n_models"] = r.S;
  j["n_samples"] = r.M;
  j["n_queries"] = r.A;
  nlohmann::ordered_json at = nlohmann::ordered_json::object();
  for (const AttackResult& a : r.attacks) {
    nlohmann::ordered_json m = metrics_json(a.overall);
    m["one_run"] = one_run_json(a.one_run, a.one_run_valid);
    at[std::string(attack_name(a.attack))] = m;
  }
  j["attacks"] = at;
  if (r.has_groups) {
    nlohmann::ordered_json g = nlohmann::ordered_json::object();
    if (!r.attacks.empty())
      for (size_t k = 0; k < r.attacks[0].groups.size(); ++k) {
        nlohmann::ordered_json per = nlohmann::ordered_json::object();
        for (const AttackResult& a : r.attacks) per[std::string(attack_name(a.attack))] = metrics_json(a.groups[k].second);
        g[std::to_string(r.attacks[0].groups[k].first)] = per;
      }
    j["groups"] = g;
  }
  nlohmann::ordered_json s;
  s["layout"] = std::string(layout_name(cfg.layout));
  s["statistic"] = std::string(statistic_name(cfg.statistic));
  // null when nothing names them (n_queries counts the views used, of queries_in_file).
  s["query_views"] = r.query_views.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(r.query_views);
  s["queries_in_file"] = r.file_views;
  if (!cfg.views.empty()) s["views"] = cfg.views;
  s["fit"] = std::string(fit_name(cfg.attack.fit));
  s["std"] = cfg.attack.ddof == 1 ? "sample" : "population";
  s["offline_score"] = std::string(offline_score_name(cfg.attack.offline));
  s["equalize_folds"] = cfg.attack.equalize_folds;
  s["delta"] = cfg.delta;
  s["bootstrap_replicates"] = cfg.bootstrap;
  s["seed"] = cfg.seed;
  s["nan_policy"] = std::string(nan_policy_name(cfg.nan_policy));
  s["dropped_pairs"] = r.dropped_pairs;
  s["nonfinite_logit_rows"] = r.nonfinite_logits;
  s["unscored_pairs"] = r.unscored_pairs;
  s["n_classes"] = r.C;
  if (!cfg.groups.empty()) s["groups_file"] = cfg.groups;
  s["models"] = r.model_names;
  j["settings"] = s;
  nlohmann::ordered_json rm;
  if (r.population > 0) {
    rm["population"] = r.population;
    rm["gamma"] = cfg.rmia.gamma;
    rm["temperature"] = cfg.rmia.temperature;
    rm["a"] = cfg.rmia.calibrate_a ? nlohmann::ordered_json("calibrate") : nlohmann::ordered_json(cfg.rmia.a);
    rm["a_per_model"] = r.rmia_a;
    rm["unscored_pairs"] = r.rmia_unscored_pairs;
    rm["dropped_population_pairs"] = r.rmia_dropped_population_pairs;
  } else {
    rm["not_run"] = r.rmia_note.empty() ? "not requested" : r.rmia_note;
  }
  j["rmia"] = rm;
  return j;
}

std::string roc_csv(const Metrics& m) {
  std::string s = "threshold,fpr,tpr,fp,tp\n";
  s.reserve(s.size() + m.curve.size() * 64);
  for (const RocPoint& p : m.curve) {
    if (std::isinf(p.threshold))
      s += p.threshold > 0 ? "inf" : "-inf";
    else
      append_g(s, p.threshold, 17);
    s += ',';
    append_g(s, m.N ? double(p.fp) / double(m.N) : 0.0, 12);
    s += ',';
    append_g(s, m.P ? double(p.tp) / double(m.P) : 0.0, 12);
    s += ',' + std::to_string(p.fp) + ',' + std::to_string(p.tp) + '\n';
  }
  return s;
}

std::string format_table(const LiraResult& r, const LiraConfig& cfg) {
  std::string out;
  char head[400];
  std::snprintf(head, sizeof head,
                "LiRA on %lld models x %lld samples x %lld queries (%lld classes); statistic %s, fit %s, std %s "
                "(ddof %d), offline %s, leave-one-model-out%s, pooled ROC\n",
                (long long)r.S, (long long)r.M, (long long)r.A, (long long)r.C, std::string(statistic_name(cfg.statistic)).c_str(),
                std::string(fit_name(cfg.attack.fit)).c_str(), cfg.attack.ddof ? "sample" : "population", cfg.attack.ddof,
                std::string(offline_score_name(cfg.attack.offline)).c_str(),
                cfg.attack.equalize_folds ? " (equalized folds)" : "");
  out += head;
  out += views_line(r, cfg);
  if (!cfg.attack.equalize_folds && r.S <= 16)
    out += "note: with " + std::to_string(r.S) +
           " models, leave-one-out fits member and non-member targets on different numbers of IN/OUT models, "
           "which by itself shifts the scores (online AUC < 0.5 and spurious low-FPR signal without any "
           "leakage); consider --equalize-folds\n";
  if (r.dropped_pairs)
    out += "dropped " + std::to_string(r.dropped_pairs) + " (model, sample) pairs with " +
           std::to_string(r.nonfinite_logits) + " non-finite logit rows (--nan-policy drop)" +
           (r.unscored_pairs ? "; " + std::to_string(r.unscored_pairs) +
                                   " further pairs unscored: their folds kept too few shadow models"
                             : std::string()) +
           "\n";
  std::string cols = pad("attack", 28, true) + pad("AUC", 8) + pad("bal.acc", 9);
  for (double f : kFprLevels) {
    char b[24];
    std::snprintf(b, sizeof b, "@%.0e", f);
    cols += pad(b, 9);
  }
  cols += pad("eps_lb", 8);
  if (cfg.bootstrap > 0) cols += "   95% CI TPR@1e-03";
  cols += "   members/non-members";
  out += pad("", 45) + "TPR at FPR <=\n";
  out += cols + "\n";
  std::vector<std::pair<std::string, const Metrics*>> rows;
  for (const AttackResult& a : r.attacks) rows.push_back({std::string(attack_name(a.attack)), &a.overall});
  table_rows(out, "", rows);
  if (r.population > 0) {
    char b[240];
    std::snprintf(b, sizeof b, "rmia: %lld population samples, gamma %g, temperature %g, a %s%s\n",
                  (long long)r.population, cfg.rmia.gamma, cfg.rmia.temperature,
                  cfg.rmia.calibrate_a ? "calibrated per target" : fixed(cfg.rmia.a, 2).c_str(),
                  r.rmia_unscored_pairs ? (", " + std::to_string(r.rmia_unscored_pairs) + " pairs unscored").c_str() : "");
    out += b;
  } else if (!r.rmia_note.empty()) {
    out += "rmia not run: " + r.rmia_note + "\n";
  }
  if (!r.attacks.empty() && !r.attacks[0].one_run.empty()) {
    const OneRunResult& o = r.attacks[0].one_run[0];
    char b[200];
    std::snprintf(b, sizeof b, "one-run epsilon lower bound per model (%.0f%% confidence, delta %g, %lld guess counts "
                  "Bonferroni-corrected): median [min, max]\n", 100 * (1 - o.p_level), o.delta, (long long)o.candidates);
    out += b;
    for (const AttackResult& a : r.attacks) {
      const OneRunSpread sp = one_run_spread(a.one_run);
      out += pad(std::string(attack_name(a.attack)), 28, true) + fixed(sp.median, 3) + " [" + fixed(sp.min, 3) + ", " +
             fixed(sp.max, 3) + "]" + (a.one_run_valid ? "" : " *") + "\n";
    }
    for (const AttackResult& a : r.attacks)
      if (!a.one_run_valid) {
        out += std::string("* ") + kOneRunCaveat + "\n";
        break;
      }
  }
  if (r.has_groups && !r.attacks.empty()) {
    for (size_t k = 0; k < r.attacks[0].groups.size(); ++k) {
      out += "group " + std::to_string(r.attacks[0].groups[k].first) + ":\n";
      rows.clear();
      for (const AttackResult& a : r.attacks) rows.push_back({std::string(attack_name(a.attack)), &a.groups[k].second});
      table_rows(out, "  ", rows);
    }
  }
  char eps[200];
  std::snprintf(eps, sizeof eps, "eps_lb: Clopper-Pearson 95%% lower bound on epsilon at delta = %g (max over thresholds)\n",
                cfg.delta);
  out += eps;
  return out;
}

}  // namespace sp::lira
