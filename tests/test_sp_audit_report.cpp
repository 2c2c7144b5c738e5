// The pieces of sp_audit's reports: ReportDoc's Markdown and HTML (escaping, every cell present, table
// shape checked, the HTML showing a plot's SVG where the Markdown links its PNG), the trade-off plot (discs
// where the axes say, area growing with time, every setting labelled in the SVG, PNG written),
// summaries built from hand-made shadow metrics and LiRA results (mean/std, phases, privacy fields, CSV and
// table), index lists, log tails, and the shadow lock seen by the status scan.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "data/file_util.h"
#include "kernels/error.h"
#include "paradigms/audit/audit_report.h"
#include "paradigms/audit/report_doc.h"
#include "paradigms/audit/tradeoff_plot.h"
#include "paradigms/audit/worker_pool.h"
#include "plot/write_figure.h"
#include "tests/lira_test_util.h"
#include "tests/plot_test_util.h"

using namespace sp::audit;
using sp::test::TempDir;
namespace fs = std::filesystem;

TEST(AuditReport, DocRendersEveryBlockInBothFormats) {
  ReportDoc d("T <1>");
  d.heading("Results");
  d.paragraph("a & b");
  d.table({"attack", "TPR"}, {{"online", "12.5%"}, {"x|y", "<b>"}});
  d.image("lira/roc.png", "ROC", "lira/roc.svg");
  d.image("images/grid.png", "grid");
  d.code("{\"a\": 1}", "json");
  std::string md = d.markdown(), html = d.html();
  EXPECT_NE(md.find("# T <1>"), std::string::npos);
  EXPECT_NE(md.find("| online | 12.5% |"), std::string::npos) << md;
  EXPECT_NE(md.find("| x\\|y | <b> |"), std::string::npos) << md;
  EXPECT_NE(md.find("![ROC](lira/roc.png)"), std::string::npos);
  EXPECT_NE(md.find("```json\n{\"a\": 1}\n```"), std::string::npos);
  EXPECT_NE(html.find("<title>T &lt;1&gt;</title>"), std::string::npos);
  EXPECT_NE(html.find("<p>a &amp; b</p>"), std::string::npos);
  EXPECT_NE(html.find("<td>&lt;b&gt;</td>"), std::string::npos);
  EXPECT_NE(html.find("<img src=\"lira/roc.svg\" alt=\"ROC\""), std::string::npos) << html;
  EXPECT_EQ(html.find("lira/roc.png"), std::string::npos) << "the HTML shows the vector plot";
  EXPECT_NE(html.find("<img src=\"images/grid.png\""), std::string::npos);
  EXPECT_NE(md.find("![grid](images/grid.png)"), std::string::npos);
  EXPECT_EQ(html.find("<b>"), std::string::npos) << "unescaped cell";
  EXPECT_THROW(d.table({"a", "b"}, {{"1"}}), sp::Error);
}

TEST(AuditReport, TradeoffPlotPutsDiscsWhereTheAxesSay) {
  std::vector<TradeoffPoint> pts = {{"baseline", 0.9, 0.3, 100}, {"dpsgd", 0.6, 0.002, 400}, {"coreset", 0.75, 1e-6, 50}};
  const sp::plot::Figure f = tradeoff_figure(pts, "t");
  EXPECT_LE(f.x.min, 0.6 - 0.02);
  EXPECT_GE(f.x.max, 0.9 + 0.02);
  EXPECT_EQ(f.y.scale, sp::plot::Scale::log);
  EXPECT_LT(f.y.min, kTradeoffTprFloor);  // the random-guess line sits above the frame
  ASSERT_EQ(f.discs.size(), 3u);
  EXPECT_EQ(f.discs[2].y, kTradeoffTprFloor);  // below chance: drawn at the floor
  EXPECT_LT(disc_radius(100, 400), disc_radius(400, 400));
  EXPECT_NEAR(disc_radius(100, 400) / disc_radius(400, 400), 0.5, 1e-9);  // area ~ time
  EXPECT_EQ(f.discs[1].radius, disc_radius(400, 400));
  if (!sp::plot::plots_available()) GTEST_SKIP() << "built with -DSP_CAIRO=OFF: no plots";
  sp::plot::RenderInfo info;
  const sp::test::Image im = sp::test::decode_png(sp::plot::render_png(f, "t.png", &info));
  ASSERT_EQ(im.width, f.width);
  for (size_t k = 0; k < pts.size(); ++k) {
    const sp::plot::Disc& d = f.discs[k];
    EXPECT_TRUE(sp::test::drawn_near(im, info.area.px(f.x, d.x), info.area.py(f.y, d.y), d.color, 1, 45))
        << pts[k].label << ": no disc at its centre";
  }
  EXPECT_TRUE(sp::test::white_border(im));
  TempDir t;
  EXPECT_EQ(write_tradeoff_plot(t / "p", pts, "t").size(), 2u);
  EXPECT_GT(fs::file_size(t / "p.png"), 1000u);
  const std::string desc = sp::test::svg_desc(sp::test::read_text(t / "p.svg"));
  for (const char* want : {"baseline", "dpsgd", "coreset", "test accuracy", "TPR at 0.1% FPR", "0.1%", "100%"})
    EXPECT_NE(desc.find(want), std::string::npos) << want;
}

TEST(AuditReport, SummaryFromShadowsAndLiraResults) {
  std::vector<ShadowEntry> sh(4);
  for (int k = 0; k < 4; ++k) {
    sh[size_t(k)].k = k;
    sh[size_t(k)].state = k < 3 ? ShadowState::done : ShadowState::failed;
    sh[size_t(k)].metrics = {{"test_accuracy", 0.5 + 0.1 * k},
                             {"train_accuracy", 1.0},
                             {"device", "cpu"},
                             {"seconds", {{"train", 10.0 * (k + 1)}, {"query", 2.0}, {"query_all", 0.0}}},
                             {"coreset", {{"size", 40 + k}, {"in_canaries", 10}, {"in_canaries_selected", 4 + 2 * k}}}};
  }
  sh[3].error = "boom";
  nlohmann::json lira = nlohmann::json::parse(R"({
    "n_models": 3, "n_samples": 10, "n_queries": 18,
    "attacks": {"online": {"auc": 0.9,
                           "tpr_at_fpr": [{"fpr": 0.001, "tpr": 0.25}, {"fpr": 0.01, "tpr": 0.5}],
                           "epsilon_lower_bound": 1.5, "n_members": 15, "n_nonmembers": 15,
                           "bootstrap": {"tpr_ci95": [0.1, 0.4]},
                           "one_run": {"valid": true, "median": 0.75, "min": 0.5, "max": 1.25, "confidence": 0.95,
                                       "delta": 1e-5, "per_model": []}},
                "offline": {"auc": 0.6, "tpr_at_fpr": [{"fpr": 0.001, "tpr": 0.0}], "n_members": 15, "n_nonmembers": 15,
                            "one_run": {"valid": false, "median": 2.5, "min": 2.0, "max": 3.0, "confidence": 0.95,
                                        "delta": 1e-5, "per_model": []}},
                "rmia_online": {"auc": 0.8, "tpr_at_fpr": [{"fpr": 0.001, "tpr": 0.125}], "n_members": 15,
                                "n_nonmembers": 15},
                "rmia_offline": {"auc": 0.7, "tpr_at_fpr": [{"fpr": 0.001, "tpr": 0.0625}], "n_members": 15,
                                 "n_nonmembers": 15}},
    "rmia": {"population": 100, "gamma": 2, "a": 0.33, "a_per_model": [0.33, 0.33, 0.33]},
    "groups": {"1": {"online": {"auc": 0.95, "tpr_at_fpr": [{"fpr": 0.001, "tpr": 0.375}], "n_members": 8,
                                "n_nonmembers": 7}},
               "2": {"online": {"auc": 0.5, "tpr_at_fpr": [{"fpr": 0.001, "tpr": 0.0}], "n_members": 7,
                                "n_nonmembers": 8}}}})");
  nlohmann::json config = {{"paradigm", "coreset"}, {"coreset", {{"method", "forgetting"}, {"fraction", 0.4}}}};
  ojson s = build_summary("/x", config, sh, lira, "");
  EXPECT_EQ(s["label"], "coreset method=forgetting fraction=0.4");  // the method first
  EXPECT_NEAR(s["utility"]["test_accuracy"]["mean"].get<double>(), 0.6, 1e-12);
  EXPECT_NEAR(s["utility"]["test_accuracy"]["std"].get<double>(), 0.1, 1e-12);
  EXPECT_EQ(s["shadows"]["failed"], ojson({3}));
  EXPECT_EQ(s["shadows"]["errors"]["3"], "boom");
  EXPECT_NEAR(s["cost"]["seconds_per_model"]["train"].get<double>(), 20.0, 1e-12);
  EXPECT_FALSE(s["cost"]["seconds_per_model"].contains("query_all"));  // zero everywhere: left out
  EXPECT_EQ(s["cost"]["seconds_per_model"].begin().key(), "train");     // in the order things happen
  EXPECT_NEAR(s["cost"]["device_hours"].get<double>(), 66.0 / 3600, 1e-12);
  EXPECT_EQ(s["privacy"]["online"]["tpr_at_0.1%_fpr"], 0.25);
  EXPECT_EQ(s["privacy"]["online"]["tpr_at_1%_fpr"], 0.5);
  EXPECT_EQ(s["privacy"]["online"]["tpr_at_0.1%_fpr_ci95"], ojson({0.1, 0.4}));
  EXPECT_EQ(best_attack(s), "online");
  std::string csv = summary_csv({s});
  EXPECT_NE(csv.find("/x,coreset method=forgetting fraction=0.4,coreset,3,4,0.6,0.1,online,0.9,0.25,0.5,1.5,0.75,0.5,1.25,22,"),
            std::string::npos)
      << csv;
  EXPECT_NE(csv.find(",rmia_online,0.8,0.125,-,-,-,-,-,22,"), std::string::npos) << csv;
  // The one-run bound and RMIA's settings (without the per-model list) reach the summary.
  EXPECT_EQ(s["privacy"]["online"]["one_run_epsilon"]["median"], 0.75);
  EXPECT_EQ(s["privacy"]["online"]["one_run_epsilon"]["max"], 1.25);
  EXPECT_FALSE(s["privacy"]["rmia_online"].contains("one_run_epsilon"));
  std::vector<std::string> order;
  for (auto it = s["privacy"].begin(); it != s["privacy"].end(); ++it) order.push_back(it.key());
  EXPECT_EQ(order, (std::vector<std::string>{"online", "offline", "rmia_online", "rmia_offline"}));  // LiRA, then RMIA
  EXPECT_EQ(s["privacy"]["offline"]["one_run_epsilon"]["valid"], false);
  EXPECT_EQ(s["lira"]["rmia"]["population"], 100);
  EXPECT_FALSE(s["lira"]["rmia"].contains("a_per_model"));
  std::string one_run_table = summary_table({s});
  EXPECT_NE(one_run_table.find("1run>="), std::string::npos) << one_run_table;
  EXPECT_NE(one_run_table.find("0.75"), std::string::npos) << one_run_table;
  EXPECT_NE(one_run_table.find("2.50*"), std::string::npos) << one_run_table;  // an invalid bound is marked
  // Coreset: IN canaries kept, pooled over the finished shadows (4 + 6 + 8 of 30), and per shadow.
  EXPECT_EQ(s["coreset"]["in_canaries"], 30);
  EXPECT_EQ(s["coreset"]["in_canaries_selected"], 18);
  EXPECT_NEAR(s["coreset"]["in_canaries_selected_fraction"].get<double>(), 0.6, 1e-12);
  EXPECT_EQ(s["coreset"]["fraction_per_shadow"]["per_shadow"], ojson({0.4, 0.6, 0.8}));
  EXPECT_NEAR(s["coreset"]["fraction_per_shadow"]["min"].get<double>(), 0.4, 1e-12);
  EXPECT_NEAR(s["coreset"]["fraction_per_shadow"]["max"].get<double>(), 0.8, 1e-12);
  // Groups are summarised like the pooled attacks.
  EXPECT_EQ(s["privacy_groups"]["1"]["online"]["tpr_at_0.1%_fpr"], 0.375);
  EXPECT_EQ(s["privacy_groups"]["2"]["online"]["n_members"], 7);
  EXPECT_NEAR(s["coreset"]["size"]["mean"].get<double>(), 41.0, 1e-12);
  std::vector<ShadowEntry> plain = sh;  // a baseline's shadows have no coreset record
  for (ShadowEntry& e : plain) e.metrics.erase("coreset");
  EXPECT_FALSE(build_summary("/y", {{"paradigm", "baseline"}}, plain, lira, "").contains("coreset"));

  // The report names the coreset groups and states the kept canaries; the comparison gets a column for them.
  TempDir t;
  write_experiment_report(t.path(), s, {});
  std::string md = sp::test::read_text(t / "report.md");
  EXPECT_NE(md.find("| IN, selected (1) | online | 37.50% |"), std::string::npos) << md;
  EXPECT_NE(md.find("| IN, not selected (2) | online | 0.00% |"), std::string::npos) << md;
  EXPECT_NE(md.find("IN canaries kept in the coreset: 18 / 30 (60.0%) over the finished shadows, 40.0% to 80.0% per shadow"),
            std::string::npos) << md;
  write_compare_report(t / "cmp", {s, build_summary("/y", {{"paradigm", "baseline"}}, plain, lira, "")});
  std::string cmp = sp::test::read_text(t / "cmp/report.md");
  EXPECT_NE(cmp.find("| IN canaries in the coreset |"), std::string::npos) << cmp;
  EXPECT_NE(cmp.find("| 18 / 30 (60.0%) |"), std::string::npos) << cmp;
  EXPECT_NE(cmp.find("| baseline | /y | 60.00% ± 10.00% | - |"), std::string::npos) << cmp;
  // The epsilon bounds: per attack in the experiment report, the largest in the comparison.
  EXPECT_NE(md.find("| online | 25.00% [10.00%, 40.00%] | 50.00% | 0.9000 | 1.50 | 0.75 [0.50, 1.25] | 15 / 15 |"),
            std::string::npos) << md;
  EXPECT_NE(md.find("95% confidence at δ 1e-05"), std::string::npos) << md;
  EXPECT_NE(md.find("| 2.50 [2.00, 3.00] * |"), std::string::npos) << md;
  EXPECT_NE(md.find("with 100 population samples"), std::string::npos) << md;
  EXPECT_NE(cmp.find("| 1.50 | 0.75 [0.50, 1.25] online |"), std::string::npos) << cmp;  // not offline's invalid 2.50

  std::string table = summary_table({s});
  EXPECT_NE(table.find("25.00%"), std::string::npos) << table;
  EXPECT_NE(table.find("60.00 +- 10.00"), std::string::npos) << table;
}

TEST(AuditReport, IndexListsLogTailsAndShadowLocks) {
  EXPECT_EQ(format_index_list({0, 1, 2, 5, 7, 8}), "0-2, 5, 7-8");
  EXPECT_EQ(format_index_list({}), "none");
  TempDir t;
  sp::test::write_text(t / "log", "a\nprogress 1\rprogress 2\n\nlast line\n");
  EXPECT_EQ(tail_lines(t / "log", 1), "last line");
  EXPECT_EQ(tail_lines(t / "log", 2), "progress 2\nlast line");
  EXPECT_EQ(tail_lines(t / "missing", 2), "");

  fs::create_directories(t / "shadow/0");
  fs::create_directories(t / "shadow/1");
  {
    auto lock = sp::data::FileLock::try_lock(t / "shadow/0/.lock");
    ASSERT_TRUE(lock);
    EXPECT_FALSE(sp::data::FileLock::try_lock(t / "shadow/0/.lock")) << "a second holder";
    EXPECT_TRUE(sp::data::FileLock::is_held(t / "shadow/0/.lock"));
    mark_failed(t.path(), 1, "out of memory", 1);
    std::vector<ShadowEntry> v = scan_shadows(t.path(), 3);
    EXPECT_EQ(v[0].state, ShadowState::running);
    EXPECT_EQ(v[1].state, ShadowState::failed);
    EXPECT_EQ(v[1].error, "out of memory");
    EXPECT_EQ(v[2].state, ShadowState::missing);
  }
  EXPECT_FALSE(sp::data::FileLock::is_held(t / "shadow/0/.lock"));
  EXPECT_EQ(scan_shadows(t.path(), 1)[0].state, ShadowState::missing);
  clear_failed(t.path(), 1);
  EXPECT_EQ(scan_shadows(t.path(), 2)[1].state, ShadowState::missing);
}
