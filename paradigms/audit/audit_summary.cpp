// Gathering an experiment's numbers into summary.json, summary.csv and the console table (see
// audit_summary.h).
#include "paradigms/audit/audit_summary.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

#include "attacks/lira_attacks.h"
#include "data/file_util.h"
#include "data/json_read.h"
#include "kernels/error.h"
#include "paradigms/paradigm.h"

namespace sp::audit {

namespace {

struct Stats {
  double mean = NAN, std = NAN, min = NAN, max = NAN;
};

Stats stats(const std::vector<double>& v) {
  Stats s;
  if (v.empty()) return s;
  double sum = 0;
  for (double x : v) sum += x;
  s.mean = sum / double(v.size());
  double ss = 0;
  for (double x : v) ss += (x - s.mean) * (x - s.mean);
  s.std = v.size() > 1 ? std::sqrt(ss / double(v.size() - 1)) : 0.0;
  s.min = *std::min_element(v.begin(), v.end());
  s.max = *std::max_element(v.begin(), v.end());
  return s;
}

ojson num(double v) { return number_or_null(v); }

std::string scalar_text(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

}  // namespace

// sp_lira's attack results (lira/results.json "attacks", or one group of "groups") as the summary's
// per-attack entries, in sp_lira's order (strongest assumptions first) whatever order the JSON reader kept.
ojson privacy_entries(const nlohmann::json& attacks) {
  ojson out = ojson::object();
  if (!attacks.is_object()) return out;
  std::vector<std::string> names;
  for (lira::Attack at : lira::kAllAttacks)
    if (attacks.contains(std::string(lira::attack_name(at)))) names.emplace_back(lira::attack_name(at));
  for (lira::Attack at : lira::kRmiaAttacks)
    if (attacks.contains(std::string(lira::attack_name(at)))) names.emplace_back(lira::attack_name(at));
  for (auto it = attacks.begin(); it != attacks.end(); ++it)
    if (std::find(names.begin(), names.end(), it.key()) == names.end()) names.push_back(it.key());
  for (const std::string& name : names) {
    const nlohmann::json& a = attacks[name];
    ojson e;
    e["auc"] = a.value("auc", nlohmann::json(nullptr));
    e["tpr_at_0.1%_fpr"] = num(tpr_at(a, 1e-3));
    e["tpr_at_1%_fpr"] = num(tpr_at(a, 1e-2));
    if (a.contains("bootstrap") && a["bootstrap"].contains("tpr_ci95")) e["tpr_at_0.1%_fpr_ci95"] = a["bootstrap"]["tpr_ci95"];
    e["epsilon_lower_bound"] = a.value("epsilon_lower_bound", nlohmann::json(nullptr));
    e["n_members"] = a.value("n_members", 0);
    e["n_nonmembers"] = a.value("n_nonmembers", 0);
    if (a.contains("one_run") && a["one_run"].is_object()) {
      const nlohmann::json& o = a["one_run"];
      ojson r;
      for (const char* k : {"median", "min", "max", "confidence", "delta"}) r[k] = o.value(k, nlohmann::json(nullptr));
      r["valid"] = o.value("valid", false);
      e["one_run_epsilon"] = r;
    }
    out[name] = e;
  }
  return out;
}

double summary_number(const ojson& j, const char* key) {
  return j.contains(key) && j[key].is_number() ? j[key].get<double>() : NAN;
}

std::string format_number(const char* format, double v) {
  if (!std::isfinite(v)) return "-";
  char b[64];
  std::snprintf(b, sizeof b, format, v);
  return b;
}

std::string setting_label(const nlohmann::json& config) {
  std::string paradigm = config.value("paradigm", std::string(kDefaultParadigm));
  std::string label = paradigm;
  if (!config.contains(paradigm) || !config[paradigm].is_object()) return label;
  const nlohmann::json& section = config[paradigm];
  // The method first: it is what tells settings apart, and long labels get cut at the end.
  if (section.contains("method") && !section["method"].is_structured()) label += " method=" + scalar_text(section["method"]);
  for (auto it = section.begin(); it != section.end(); ++it)
    if (!it.value().is_structured() && it.key() != "method") label += " " + it.key() + "=" + scalar_text(it.value());
  return label;
}

ojson number_or_null(double v) { return std::isfinite(v) ? ojson(v) : ojson(nullptr); }

ojson stats_json(const std::vector<double>& v, bool per_shadow) {
  Stats s = stats(v);
  ojson j = {{"mean", num(s.mean)}, {"std", num(s.std)}, {"min", num(s.min)}, {"max", num(s.max)}};
  if (per_shadow) j["per_shadow"] = v;
  return j;
}

double median(std::vector<double> v) {
  v.erase(std::remove_if(v.begin(), v.end(), [](double x) { return !std::isfinite(x); }), v.end());
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  const size_t h = v.size() / 2;
  return v.size() % 2 ? v[h] : 0.5 * (v[h - 1] + v[h]);
}

nlohmann::json median_json(const std::vector<double>& v) {
  const double m = median(v);
  return std::isfinite(m) ? nlohmann::json(m) : nlohmann::json(nullptr);
}

double tpr_at(const nlohmann::json& attack, double fpr) {
  if (!attack.contains("tpr_at_fpr")) return NAN;
  for (const auto& e : attack["tpr_at_fpr"])
    if (std::fabs(e.value("fpr", -1.0) - fpr) <= 1e-12 * fpr && e["tpr"].is_number()) return e["tpr"].get<double>();
  return NAN;
}

ojson build_summary(const std::string& dir, const nlohmann::json& config, const std::vector<ShadowEntry>& shadows,
                    const nlohmann::json& lira_results, const std::string& attack_error) {
  ojson j;
  j["experiment"] = dir;
  j["label"] = setting_label(config);
  j["paradigm"] = config.value("paradigm", std::string(kDefaultParadigm));

  ojson sh;
  sh["total"] = shadows.size();
  for (ShadowState st : {ShadowState::done, ShadowState::running, ShadowState::failed, ShadowState::missing})
    sh[state_name(st)] = shadows_in_state(shadows, st);
  ojson errors = ojson::object();
  for (const ShadowEntry& e : shadows)
    if (e.state == ShadowState::failed) errors[std::to_string(e.k)] = e.error;
  sh["errors"] = errors;
  j["shadows"] = sh;

  std::vector<double> test_acc, train_acc, total_s;
  std::map<std::string, std::vector<double>> phases;
  std::vector<std::string> phase_order;
  std::vector<std::string> devices;
  for (const ShadowEntry& e : shadows) {
    if (e.state != ShadowState::done) continue;
    const nlohmann::json& m = e.metrics;
    test_acc.push_back(m.value("test_accuracy", double(NAN)));
    train_acc.push_back(m.value("train_accuracy", double(NAN)));
    double tot = 0;
    if (m.contains("seconds") && m["seconds"].is_object())
      for (auto it = m["seconds"].begin(); it != m["seconds"].end(); ++it) {
        if (!it.value().is_number()) continue;
        if (!phases.count(it.key())) phase_order.push_back(it.key());
        phases[it.key()].push_back(it.value().get<double>());
        tot += it.value().get<double>();
      }
    total_s.push_back(tot);
    std::string dev = m.value("device", std::string("?"));
    if (std::find(devices.begin(), devices.end(), dev) == devices.end()) devices.push_back(dev);
  }
  j["utility"] = {{"test_accuracy", stats_json(test_acc, true)}, {"train_accuracy", stats_json(train_acc, false)}};
  if (const Paradigm* p = find_paradigm_or_null(j["paradigm"].get<std::string>())) {
    ojson ps = p->summarize_experiment(dir, shadows);
    if (!ps.is_null()) j[p->name()] = ps;
  }

  ojson cost;
  cost["devices"] = devices;
  // Phases in the order they happen; unknown ones after; phases that took no time anywhere left out.
  static const std::vector<std::string> kOrder = {"setup", "select", "selection", "synthesis", "train", "evaluate", "query",
                                                  "query_all", "write"};
  std::stable_sort(phase_order.begin(), phase_order.end(), [](const std::string& a, const std::string& b) {
    auto rank = [](const std::string& x) {
      auto it = std::find(kOrder.begin(), kOrder.end(), x);
      return it == kOrder.end() ? kOrder.size() : size_t(it - kOrder.begin());
    };
    return rank(a) < rank(b);
  });
  ojson ph = ojson::object();
  for (const std::string& p : phase_order) {
    if (std::all_of(phases[p].begin(), phases[p].end(), [](double v) { return v == 0; })) continue;
    double sum = 0;
    for (double v : phases[p]) sum += v;
    // A phase missing in some shadows (e.g. query_all) counts as 0 there.
    ph[p] = total_s.empty() ? 0.0 : sum / double(total_s.size());
  }
  cost["seconds_per_model"] = ph;
  cost["total_seconds_per_model"] = stats_json(total_s, false);
  double sum_s = 0;
  for (double v : total_s) sum_s += v;
  cost["device_hours"] = sum_s / 3600.0;
  bool gpu = std::any_of(devices.begin(), devices.end(), [](const std::string& d) { return d.rfind("cuda", 0) == 0; });
  cost["device_kind"] = devices.empty() ? "none" : gpu ? "gpu" : "cpu";
  j["cost"] = cost;

  if (lira_results.is_object()) {
    j["privacy"] = privacy_entries(lira_results["attacks"]);
    if (lira_results.contains("groups") && lira_results["groups"].is_object()) {
      ojson groups = ojson::object();
      for (auto g = lira_results["groups"].begin(); g != lira_results["groups"].end(); ++g)
        groups[g.key()] = privacy_entries(g.value());
      j["privacy_groups"] = groups;
    }
    j["lira"] = {{"n_models", lira_results.value("n_models", 0)},
                 {"n_samples", lira_results.value("n_samples", 0)},
                 {"n_queries", lira_results.value("n_queries", 0)},
                 {"results", "lira/results.json"}};
    if (lira_results.contains("rmia")) {
      ojson rm;
      for (auto it = lira_results["rmia"].begin(); it != lira_results["rmia"].end(); ++it)
        if (it.key() != "a_per_model") rm[it.key()] = it.value();
      j["lira"]["rmia"] = rm;
    }
  }
  if (!attack_error.empty()) j["attack_error"] = attack_error;
  j["config"] = config;
  return j;
}

std::string summary_csv(const std::vector<ojson>& summaries) {
  std::string s =
      "experiment,label,paradigm,shadows_done,shadows_total,test_accuracy_mean,test_accuracy_std,attack,auc,"
      "tpr_at_0.1pct_fpr,tpr_at_1pct_fpr,epsilon_lower_bound,one_run_epsilon_median,one_run_epsilon_min,"
      "one_run_epsilon_max,seconds_per_model,device_hours,device_kind\n";
  for (const ojson& j : summaries) {
    std::string head = csv_field(j.value("experiment", std::string())) + "," + csv_field(j.value("label", std::string())) +
                       "," + csv_field(j.value("paradigm", std::string())) + "," +
                       std::to_string(j["shadows"]["done"].size()) + "," + std::to_string(j["shadows"].value("total", 0)) +
                       "," + format_number("%.6g", summary_number(j["utility"]["test_accuracy"], "mean")) + "," +
                       format_number("%.6g", summary_number(j["utility"]["test_accuracy"], "std")) + ",";
    std::string tail = "," + format_number("%.6g", summary_number(j["cost"]["total_seconds_per_model"], "mean")) + "," +
                       format_number("%.6g", summary_number(j["cost"], "device_hours")) + "," + j["cost"].value("device_kind", std::string());
    if (!j.contains("privacy") || j["privacy"].empty()) {
      s += head + ",,,,,,,," + tail.substr(1) + "\n";
      continue;
    }
    for (auto it = j["privacy"].begin(); it != j["privacy"].end(); ++it) {
      const ojson& a = it.value();
      s += head + it.key() + "," + format_number("%.6g", summary_number(a, "auc")) + "," + format_number("%.6g", summary_number(a, "tpr_at_0.1%_fpr")) + "," +
           format_number("%.6g", summary_number(a, "tpr_at_1%_fpr")) + "," + format_number("%.6g", summary_number(a, "epsilon_lower_bound"));
      for (const char* k : {"median", "min", "max"})
        s += "," + format_number("%.6g", a.contains("one_run_epsilon") ? summary_number(a["one_run_epsilon"], k) : NAN);
      s += tail + "\n";
    }
  }
  return s;
}

std::string summary_table(const std::vector<ojson>& summaries) {
  std::string s;
  char line[400];
  std::snprintf(line, sizeof line, "%-34s %-24s %15s %11s %11s %7s %6s %8s %10s\n", "setting", "attack", "test acc (%)",
                "TPR@0.1%", "TPR@1%", "AUC", "eps>=", "1run>=", "s/model");
  s += line;
  for (const ojson& j : summaries) {
    std::string label = j.value("label", std::string());
    if (label.size() > 34) label = label.substr(0, 31) + "...";
    const ojson& acc = j["utility"]["test_accuracy"];
    std::string acc_s = format_number("%.2f", 100 * summary_number(acc, "mean")) + " +- " + format_number("%.2f", 100 * summary_number(acc, "std"));
    std::string secs = format_number("%.1f", summary_number(j["cost"]["total_seconds_per_model"], "mean"));
    if (!j.contains("privacy") || j["privacy"].empty()) {
      std::snprintf(line, sizeof line, "%-34s %-24s %15s %11s %11s %7s %6s %8s %10s\n", label.c_str(), "(not attacked)",
                    acc_s.c_str(), "-", "-", "-", "-", "-", secs.c_str());
      s += line;
      continue;
    }
    for (auto it = j["privacy"].begin(); it != j["privacy"].end(); ++it) {
      const ojson& a = it.value();
      const double one_run = a.contains("one_run_epsilon") ? summary_number(a["one_run_epsilon"], "median") : NAN;
      const bool one_run_valid = a.contains("one_run_epsilon") && a["one_run_epsilon"].value("valid", false);
      std::snprintf(line, sizeof line, "%-34s %-24s %15s %10s%% %10s%% %7s %6s %8s %10s\n", label.c_str(), it.key().c_str(),
                    acc_s.c_str(), format_number("%.2f", 100 * summary_number(a, "tpr_at_0.1%_fpr")).c_str(),
                    format_number("%.2f", 100 * summary_number(a, "tpr_at_1%_fpr")).c_str(), format_number("%.4f", summary_number(a, "auc")).c_str(),
                    format_number("%.2f", summary_number(a, "epsilon_lower_bound")).c_str(),
                    (format_number("%.2f", one_run) + (std::isfinite(one_run) && !one_run_valid ? "*" : "")).c_str(),
                    secs.c_str());
      s += line;
      label.clear();  // the setting and accuracy once per experiment
      acc_s.clear();
      secs.clear();
    }
  }
  return s;
}

ojson read_summary(const std::string& dir) {
  const std::string path = dir + "/summary.json";
  std::vector<uint8_t> b = data::read_file_bytes(path);
  ojson j = data::parse_ordered_json_or_discarded(std::string_view(reinterpret_cast<const char*>(b.data()), b.size()));
  SP_CHECK(!j.is_discarded() && j.is_object() && j.contains("utility") && j.contains("shadows") && j.contains("cost"),
           path,
           ": not an sp_audit summary (corrupt file?); run `sp_audit CONFIG --out ", dir, "` to rebuild it");
  return j;
}

}  // namespace sp::audit
