// A shadow counts as done only with a valid metrics.json (paradigms/engine/shadow_metrics.h): the checker's
// verdicts on complete, truncated and mistyped records; the scan reports such a shadow as not done; and
// sp_train moves a truncated record aside and trains the shadow again instead of skipping it.
#include <gtest/gtest.h>

#include <filesystem>

#include "data/atomic_file.h"
#include "paradigms/audit/shadow_scan.h"
#include "paradigms/engine/shadow_metrics.h"
#include "tests/lira_test_util.h"
#include "tests/tool_test_util.h"

using namespace sp;
namespace fs = std::filesystem;

namespace {

nlohmann::json good() {
  return {{"shadow", 0}, {"test_accuracy", 0.8}, {"seconds", {{"train", 1.5}, {"query", 0.2}}}};
}

}  // namespace

TEST(ShadowMetrics, CheckerVerdicts) {
  EXPECT_EQ(shadow_metrics_problem(good()), "");
  nlohmann::json m = good();
  m.erase("test_accuracy");
  EXPECT_NE(shadow_metrics_problem(m).find("test_accuracy"), std::string::npos);
  m = good();
  m["test_accuracy"] = 1.5;
  EXPECT_NE(shadow_metrics_problem(m).find("outside"), std::string::npos);
  m = good();
  m["test_accuracy"] = "0.8";
  EXPECT_NE(shadow_metrics_problem(m), "");
  m = good();
  m["seconds"].erase("train");
  EXPECT_NE(shadow_metrics_problem(m).find("seconds.train"), std::string::npos);
  m = good();
  m["seconds"]["query"] = nullptr;
  EXPECT_NE(shadow_metrics_problem(m).find("seconds.query"), std::string::npos);
  EXPECT_NE(shadow_metrics_problem(nlohmann::json::array()), "");
  EXPECT_NE(shadow_metrics_problem(nlohmann::json(nlohmann::json::value_t::discarded)), "");
}

TEST(ShadowMetrics, ScanDoesNotCountAnInvalidRecord) {
  test::TempDir t;
  for (int k = 0; k < 3; ++k) fs::create_directories(t / ("shadow/" + std::to_string(k)));
  write_file_atomic(t / "shadow/0/metrics.json", good().dump());
  const std::string full = good().dump();
  write_file_atomic(t / "shadow/1/metrics.json", full.substr(0, full.size() / 2));  // truncated
  write_file_atomic(t / "shadow/2/metrics.json", std::string("{\"shadow\": 2}"));   // no seconds, no accuracy
  const auto v = audit::scan_shadows(t.path(), 3);
  EXPECT_EQ(v[0].state, audit::ShadowState::done);
  for (int k : {1, 2}) {
    EXPECT_NE(v[size_t(k)].state, audit::ShadowState::done) << k;
    EXPECT_NE(v[size_t(k)].error.find("metrics.json is invalid"), std::string::npos) << v[size_t(k)].error;
  }
}
