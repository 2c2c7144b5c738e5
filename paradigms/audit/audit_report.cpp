// Building the audit reports from summaries (see audit_report.h).
#include "paradigms/audit/audit_report.h"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <filesystem>

#include "data/atomic_file.h"
#include "attacks/lira_report.h"
#include "data/query_views.h"
#include "paradigms/audit/report_doc.h"
#include "paradigms/audit/tradeoff_plot.h"
#include "paradigms/paradigm.h"
#include "plot/write_figure.h"

namespace fs = std::filesystem;

namespace sp::audit {

namespace {

std::string pct(double v, int digits = 2) { return percent_text(v, digits); }

// In place of a plot a build without cairo could not draw, so a reader knows why it is missing.
constexpr const char* kNoPlotsNote =
    "Plots were not drawn: this synpriv was built with -DSP_CAIRO=OFF (without cairo); rebuild with cairo "
    "(Debian package libcairo2-dev) to get them.";

std::string now_utc() {
  std::time_t t = std::time(nullptr);
  char b[64];
  std::strftime(b, sizeof b, "%Y-%m-%d %H:%M UTC", std::gmtime(&t));
  return b;
}

std::string accuracy_text(const ojson& s) {
  const ojson& a = s["utility"]["test_accuracy"];
  return pct(summary_number(a, "mean")) + " ± " + pct(summary_number(a, "std"));
}

std::vector<std::string> attack_row(const std::string& name, const ojson& a) {
  std::string tpr = pct(summary_number(a, "tpr_at_0.1%_fpr"));
  if (a.contains("tpr_at_0.1%_fpr_ci95") && a["tpr_at_0.1%_fpr_ci95"].is_array() && a["tpr_at_0.1%_fpr_ci95"].size() == 2 &&
      a["tpr_at_0.1%_fpr_ci95"][0].is_number())
    tpr += " [" + pct(a["tpr_at_0.1%_fpr_ci95"][0].get<double>()) + ", " +
           pct(a["tpr_at_0.1%_fpr_ci95"][1].get<double>()) + "]";
  std::string one_run = "-";
  if (a.contains("one_run_epsilon") && a["one_run_epsilon"].is_object()) {
    const ojson& o = a["one_run_epsilon"];
    one_run = format_number("%.2f", summary_number(o, "median")) + " [" + format_number("%.2f", summary_number(o, "min")) +
              ", " + format_number("%.2f", summary_number(o, "max")) + "]" + (o.value("valid", false) ? "" : " *");
  }
  return {name, tpr, pct(summary_number(a, "tpr_at_1%_fpr")), format_number("%.4f", summary_number(a, "auc")),
          format_number("%.2f", summary_number(a, "epsilon_lower_bound")), one_run,
          std::to_string(a.value("n_members", 0)) + " / " + std::to_string(a.value("n_nonmembers", 0))};
}

// What the one-run column is, with its confidence and delta.
std::string one_run_note(const ojson& s) {
  double conf = NAN, delta = NAN;
  for (auto it = s["privacy"].begin(); it != s["privacy"].end(); ++it)
    if (it.value().contains("one_run_epsilon")) {
      conf = summary_number(it.value()["one_run_epsilon"], "confidence");
      delta = summary_number(it.value()["one_run_epsilon"], "delta");
      break;
    }
  return "ε lower bound: from the pooled ROC (Clopper-Pearson, 95%). One-run ε: each shadow model audited on its own "
         "from its scores (Steinke, Nasr, Jagielski 2023: IN guesses for the highest scores, OUT for the lowest, "
         "abstaining on the rest; " + format_number("%.0f", 100 * conf) + "% confidence at δ " +
         format_number("%g", delta) + ", the number of guesses chosen over a Bonferroni-corrected grid); median and "
         "range over the shadows. * marks a bound that is " + std::string(lira::kOneRunCaveat) + ".";
}

// "N query views each (audit.query_views = NAME: what they are)"; NAME from the summary's configuration.
std::string views_text(const ojson& s) {
  const int64_t n = s["lira"].value("n_queries", int64_t(0));
  std::string t = std::to_string(n) + (n == 1 ? " query view each" : " query views each");
  if (!s.contains("config") || !s["config"].contains("audit") || !s["config"]["audit"].is_object()) return t;
  const ojson& a = s["config"]["audit"];
  if (!a.contains("query_views") || !a["query_views"].is_string()) return t;
  const auto v = data::query_views_from_name(a["query_views"].get<std::string>());
  if (!v) return t;
  return t + " (audit.query_views = " + data::query_views_name(*v) + ": " + data::query_views_description(*v) + ")";
}

std::string rmia_note(const ojson& r) {
  if (r.contains("not_run")) return "RMIA was not run: " + r.value("not_run", std::string()) + ".";
  std::string a = r.contains("a") && r["a"].is_string() ? "calibrated per target model"
                                                       : format_number("%.2f", summary_number(r, "a"));
  return "RMIA (Zarifzadeh, Liu, Shokri 2024) compares each audit sample with " +
         std::to_string(r.value("population", 0)) + " population samples (test images no model trained on): γ " +
         format_number("%g", summary_number(r, "gamma")) + ", a " + a + ".";
}

void shadows_paragraph(ReportDoc& d, const ojson& s) {
  const ojson& sh = s["shadows"];
  std::vector<int> done = sh["done"], failed = sh["failed"], missing = sh["missing"], running = sh["running"];
  std::string t = "Shadow models: " + std::to_string(done.size()) + " of " + std::to_string(sh.value("total", 0)) +
                  " finished";
  if (!running.empty()) t += "; running: " + format_index_list(running);
  if (!missing.empty()) t += "; missing: " + format_index_list(missing);
  if (!failed.empty()) t += "; FAILED: " + format_index_list(failed);
  d.paragraph(t + ".");
  for (auto it = sh["errors"].begin(); it != sh["errors"].end(); ++it)
    d.paragraph("Shadow " + it.key() + " failed: " + it.value().get<std::string>());
}

void write_both(const std::string& dir, const ReportDoc& d) {
  write_file_atomic(dir + "/report.md", d.markdown());
  write_file_atomic(dir + "/report.html", d.html());
}

// The experiment's paradigm, or null for a summary of an unknown (or future) paradigm.
const Paradigm* paradigm_of_summary(const ojson& s) {
  return find_paradigm_or_null(s.value("paradigm", std::string(kDefaultParadigm)));
}

void group_section(ReportDoc& d, const ojson& s) {
  d.heading("Leakage by group", 3);
  const Paradigm* p = paradigm_of_summary(s);
  if (p && !p->groups_note().empty()) d.paragraph(p->groups_note());
  std::vector<std::vector<std::string>> rows;
  for (auto g = s["privacy_groups"].begin(); g != s["privacy_groups"].end(); ++g)
    for (auto it = g.value().begin(); it != g.value().end(); ++it) {
      std::vector<std::string> r = attack_row(it.key(), it.value());
      r.insert(r.begin(), p ? p->group_name(g.key()) : g.key());
      rows.push_back(r);
    }
  d.table({"group", "attack", "TPR @ 0.1% FPR [95% CI]", "TPR @ 1% FPR", "AUC", "ε lower bound", "one-run ε, median [range]",
           "members / non-members"},
          rows);
}

}  // namespace

std::string percent_text(double v, int digits) {
  char f[16];
  std::snprintf(f, sizeof f, "%%.%df%%%%", digits);
  return format_number(f, 100 * v);
}

std::string best_attack(const ojson& summary) {
  std::string best;
  double v = -1;
  if (!summary.contains("privacy")) return best;
  for (auto it = summary["privacy"].begin(); it != summary["privacy"].end(); ++it) {
    double t = summary_number(it.value(), "tpr_at_0.1%_fpr");
    if (std::isfinite(t) && t > v) v = t, best = it.key();
  }
  return best;
}

void write_experiment_report(const std::string& dir, const ojson& s, const std::vector<ReportImage>& images) {
  ReportDoc d("synpriv audit: " + s.value("label", std::string("experiment")));
  d.paragraph("Experiment directory " + s.value("experiment", dir) + ", report written " + now_utc() + ".");

  d.heading("Privacy leakage (LiRA and RMIA, leave-one-model-out over the shadow models)");
  if (s.contains("privacy")) {
    std::vector<std::vector<std::string>> rows;
    for (auto it = s["privacy"].begin(); it != s["privacy"].end(); ++it) rows.push_back(attack_row(it.key(), it.value()));
    d.table({"attack", "TPR @ 0.1% FPR [95% CI]", "TPR @ 1% FPR", "AUC", "ε lower bound", "one-run ε, median [range]",
             "members / non-members"},
            rows);
    const ojson& l = s["lira"];
    d.paragraph("Pooled over " + std::to_string(l.value("n_models", 0)) + " models x " +
                std::to_string(l.value("n_samples", 0)) + " audit samples, " + views_text(s) +
                "; a random guess has TPR 0.1% at 0.1% FPR. Full results: lira/results.json.");
    d.paragraph(one_run_note(s));
    if (l.contains("rmia")) d.paragraph(rmia_note(l["rmia"]));
    if (s.contains("attack_note")) d.paragraph("Some attacks were " + s["attack_note"].get<std::string>() + ".");
    if (s.contains("attack_caveat")) d.paragraph("Caveat: " + s["attack_caveat"].get<std::string>() + ".");
  } else {
    d.paragraph("The attacks were not run: " + s.value("attack_error", std::string("no results")) + ".");
  }
  if (s.contains("privacy_groups")) group_section(d, s);
  if (fs::exists(dir + "/lira/roc.png"))
    d.image("lira/roc.png", "ROC curves of every attack (log-log)", fs::exists(dir + "/lira/roc.svg") ? "lira/roc.svg" : "");
  else if (!plot::plots_available())
    d.paragraph(kNoPlotsNote);
  if (const Paradigm* p = paradigm_of_summary(s)) p->report_section(d, s);

  d.heading("Utility");
  const ojson& u = s["utility"];
  d.table({"metric", "mean", "std", "min", "max"},
          {{"test accuracy", pct(summary_number(u["test_accuracy"], "mean")), pct(summary_number(u["test_accuracy"], "std")),
            pct(summary_number(u["test_accuracy"], "min")), pct(summary_number(u["test_accuracy"], "max"))},
           {"train accuracy", pct(summary_number(u["train_accuracy"], "mean")), pct(summary_number(u["train_accuracy"], "std")),
            pct(summary_number(u["train_accuracy"], "min")), pct(summary_number(u["train_accuracy"], "max"))}});
  shadows_paragraph(d, s);

  d.heading("Cost");
  std::vector<std::vector<std::string>> rows;
  for (auto it = s["cost"]["seconds_per_model"].begin(); it != s["cost"]["seconds_per_model"].end(); ++it)
    rows.push_back({it.key(), format_number("%.2f", it.value().get<double>())});
  rows.push_back({"total", format_number("%.2f", summary_number(s["cost"]["total_seconds_per_model"], "mean"))});
  d.table({"phase", "seconds per model (mean)"}, rows);
  std::string devs;
  for (const auto& v : s["cost"]["devices"]) devs += (devs.empty() ? "" : ", ") + v.get<std::string>();
  d.paragraph("Summed over the finished models: " + format_number("%.3f", summary_number(s["cost"], "device_hours")) +
              " " + (s["cost"].value("device_kind", std::string()) == "gpu" ? "GPU" : "CPU") +
              "-hours (each model's wall time on its device: " + (devs.empty() ? "none" : devs) +
              "; concurrent workers overlap them).");

  if (!images.empty()) {
    d.heading("Data");
    for (const ReportImage& im : images) d.image(im.path, im.caption, im.svg);
  }
  d.heading("Configuration");
  d.code(s["config"].dump(2), "json");
  write_both(dir, d);
}

void write_compare_report(const std::string& out, const std::vector<ojson>& summaries) {
  fs::create_directories(out);
  std::vector<TradeoffPoint> pts;
  for (const ojson& s : summaries) {
    std::string a = best_attack(s);
    TradeoffPoint p;
    p.label = s.value("label", std::string("?"));
    p.accuracy = summary_number(s["utility"]["test_accuracy"], "mean");
    p.tpr = a.empty() ? NAN : summary_number(s["privacy"][a], "tpr_at_0.1%_fpr");
    p.seconds = summary_number(s["cost"]["total_seconds_per_model"], "mean");
    if (std::isfinite(p.accuracy) && std::isfinite(p.tpr)) pts.push_back(p);
  }
  const bool plotted = !write_tradeoff_plot(out + "/tradeoff", pts, "Privacy vs utility vs cost").empty();
  write_file_atomic(out + "/summary.csv", summary_csv(summaries));

  ReportDoc d("synpriv comparison of " + std::to_string(summaries.size()) + " experiments");
  d.paragraph("Report written " + now_utc() + ". Leakage is the best attack's TPR at 0.1% FPR (a random guess: 0.1%). "
              "The ε columns are empirical lower bounds, the largest over the attacks: from the pooled ROC, and the "
              "one-run audit of each shadow model (median and range over the shadows; only valid bounds: the global "
              "threshold, or every attack when audited with --equalize-folds); DP-SGD's accounted ε is the upper bound "
              "they can be held against.");
  std::vector<std::vector<std::string>> rows;
  // A column of each paradigm among the experiments that has one (the coreset's kept canaries, DP's epsilon).
  std::vector<const Paradigm*> columns;
  for (const ojson& s : summaries) {
    const Paradigm* p = paradigm_of_summary(s);
    if (p && !p->comparison_heading().empty() && std::find(columns.begin(), columns.end(), p) == columns.end())
      columns.push_back(p);
  }
  for (const ojson& s : summaries) {
    std::string a = best_attack(s);
    const ojson& sh = s["shadows"];
    // The largest epsilon bounds over the attacks: pooled ROC, and the one-run median with its range.
    double eps = NAN, one_med = NAN;
    std::string one_run = "-";
    if (s.contains("privacy"))
      for (auto it = s["privacy"].begin(); it != s["privacy"].end(); ++it) {
        const double e = summary_number(it.value(), "epsilon_lower_bound");
        if (std::isfinite(e) && !(e <= eps)) eps = e;
        if (!it.value().contains("one_run_epsilon") || !it.value()["one_run_epsilon"].value("valid", false)) continue;
        const ojson& o = it.value()["one_run_epsilon"];
        const double m = summary_number(o, "median");
        if (std::isfinite(m) && !(m <= one_med)) {
          one_med = m;
          one_run = format_number("%.2f", m) + " [" + format_number("%.2f", summary_number(o, "min")) + ", " +
                    format_number("%.2f", summary_number(o, "max")) + "] " + it.key();
        }
      }
    rows.push_back({s.value("label", std::string("?")), s.value("experiment", std::string()), accuracy_text(s),
                    a.empty() ? "-" : pct(summary_number(s["privacy"][a], "tpr_at_0.1%_fpr")), a.empty() ? "-" : a,
                    a.empty() ? "-" : format_number("%.4f", summary_number(s["privacy"][a], "auc")),
                    format_number("%.2f", eps), one_run,
                    format_number("%.1f", summary_number(s["cost"]["total_seconds_per_model"], "mean")),
                    std::to_string(sh["done"].size()) + " / " + std::to_string(sh.value("total", 0))});
    for (size_t c = 0; c < columns.size(); ++c)
      rows.back().insert(rows.back().begin() + 3 + long(c),
                         paradigm_of_summary(s) == columns[c] ? columns[c]->comparison_cell(s) : "-");
  }
  std::vector<std::string> head = {"setting", "experiment", "test accuracy", "TPR @ 0.1% FPR", "best attack", "AUC",
                                   "ε lower bound (ROC, best attack)", "one-run ε, median [range] (best attack)",
                                   "s / model", "shadows"};
  for (size_t c = 0; c < columns.size(); ++c) head.insert(head.begin() + 3 + long(c), columns[c]->comparison_heading());
  d.table(head, rows);
  if (plotted)
    d.image("tradeoff.png", "Privacy (TPR at 0.1% FPR) vs utility (test accuracy); disc area: training time per model",
            "tradeoff.svg");
  else
    d.paragraph(kNoPlotsNote);
  d.heading("Every attack");
  d.code(summary_table(summaries));
  write_both(out, d);
}

}  // namespace sp::audit
