// The report sections of the baseline and DP-SGD paradigms (the coreset's is tested with the summary in
// tests/test_sp_audit_report.cpp): from shadows' metrics.json records, summary.json gets the paradigm's entry,
// report.md states the setting (baseline) or the privacy guarantee with its parameters (DP-SGD), and the
// comparison of experiments gets DP-SGD's epsilon column.
#include <gtest/gtest.h>

#include "paradigms/audit/audit_report.h"
#include "paradigms/paradigm.h"
#include "tests/lira_test_util.h"

using namespace sp;
using namespace sp::audit;
using sp::test::TempDir;

namespace {

std::vector<ShadowEntry> finished_shadows(const nlohmann::json& extra) {
  std::vector<ShadowEntry> sh(2);
  for (int k = 0; k < 2; ++k) {
    sh[size_t(k)].k = k;
    sh[size_t(k)].state = ShadowState::done;
    sh[size_t(k)].metrics = {{"test_accuracy", 0.4 + 0.2 * k}, {"train_accuracy", 0.9}, {"device", "cpu"},
                             {"seconds", {{"train", 5.0}}}};
    for (auto it = extra.begin(); it != extra.end(); ++it) sh[size_t(k)].metrics[it.key()] = it.value();
  }
  return sh;
}

std::string report_of(const TempDir& t, const std::string& name, const ojson& summary) {
  const std::string dir = t / name;
  std::filesystem::create_directories(dir);
  write_experiment_report(dir, summary, {});
  return sp::test::read_text(dir + "/report.md");
}

}  // namespace

TEST(ParadigmReports, BaselineSectionStatesTheSetting) {
  TempDir t;
  ojson s = build_summary("/b", {{"paradigm", "baseline"}}, finished_shadows({}), nullptr, "not run");
  EXPECT_FALSE(s.contains("baseline")) << "the baseline has no summary entry of its own";
  std::string md = report_of(t, "b", s);
  EXPECT_NE(md.find("## Training"), std::string::npos) << md;
  EXPECT_NE(md.find("Undefended baseline: every model trains on its whole private set"), std::string::npos) << md;
}

TEST(ParadigmReports, DpsgdSectionStatesTheGuarantee) {
  nlohmann::json dp = {{"epsilon", 7.5}, {"delta", 1e-5}, {"accountant", "rdp"}, {"noise_multiplier", 0.9},
                       {"clip_norm", 1.0}, {"sample_rate", 0.16}, {"steps", 36}, {"augmult", 2}, {"ema_decay", 0.999}};
  std::vector<ShadowEntry> sh = finished_shadows({{"dpsgd", dp}});
  sh[1].metrics["dpsgd"]["epsilon"] = 8.5;
  nlohmann::json config = {{"paradigm", "dpsgd"}, {"dpsgd", {{"target_epsilon", 8}}}};
  ojson s = build_summary("/d", config, sh, nullptr, "not run");
  ASSERT_TRUE(s.contains("dpsgd")) << s.dump(2);
  EXPECT_EQ(s["dpsgd"]["epsilon"]["per_shadow"], ojson({7.5, 8.5}));
  EXPECT_EQ(s["dpsgd"]["steps"], 36);
  TempDir t;
  std::string md = report_of(t, "d", s);
  EXPECT_NE(md.find("## Differential privacy (DP-SGD)"), std::string::npos) << md;
  EXPECT_NE(md.find("ε 8 at δ 1e-05 (rdp accountant)"), std::string::npos) << md;
  EXPECT_NE(md.find("| 0.9 | 1.0 | 0.16 | 36 | 2 | 0.999 |"), std::string::npos) << md;

  // Before any shadow recorded its parameters, the section says so.
  ojson empty = build_summary("/d", config, finished_shadows({}), nullptr, "not run");
  EXPECT_NE(report_of(t, "e", empty).find("No finished shadow model has recorded its privacy parameters"),
            std::string::npos);

  write_compare_report(t / "cmp", {s, build_summary("/b", {{"paradigm", "baseline"}}, finished_shadows({}), nullptr, "")});
  std::string cmp = sp::test::read_text(t / "cmp/report.md");
  EXPECT_NE(cmp.find("| DP ε |"), std::string::npos) << cmp;
  EXPECT_NE(cmp.find("| 8 |"), std::string::npos) << cmp;
}
