// The paradigm registry (paradigms/paradigm.h): every registered paradigm declares a configuration test, a
// tiny end-to-end test and a report test that exist in this binary, ships a small CPU configuration that
// loads as that paradigm, and writes a report section from a summary; its configuration sections are
// refused under another paradigm; an unknown name lists the known ones. The shape of the house is checked on
// the sources: the engine (paradigms/engine/) includes no paradigm, and no paradigm's name is compared
// outside its own folder.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "paradigms/paradigm.h"
#include "tests/config_test_util.h"
#include "tests/lira_test_util.h"

using namespace sp;
namespace fs = std::filesystem;

namespace {

const fs::path kSource = SP_SOURCE_DIR;

std::set<std::string> gtest_names() {
  std::set<std::string> names;
  const ::testing::UnitTest& u = *::testing::UnitTest::GetInstance();
  for (int i = 0; i < u.total_test_suite_count(); ++i) {
    const ::testing::TestSuite& s = *u.GetTestSuite(i);
    for (int j = 0; j < s.total_test_count(); ++j)
      names.insert(std::string(s.name()) + "." + s.GetTestInfo(j)->name());
  }
  return names;
}

// Every .h/.cpp file under `dir` of the source tree, with its text.
std::vector<std::pair<fs::path, std::string>> sources_under(const fs::path& dir) {
  std::vector<std::pair<fs::path, std::string>> out;
  for (const auto& e : fs::recursive_directory_iterator(kSource / dir)) {
    if (!e.is_regular_file() || (e.path().extension() != ".h" && e.path().extension() != ".cpp")) continue;
    std::ifstream f(e.path());
    std::stringstream text;
    text << f.rdbuf();
    out.push_back({fs::relative(e.path(), kSource), text.str()});
  }
  return out;
}

}  // namespace

TEST(ParadigmRegistry, TheShippedParadigmsAreRegisteredAndUnknownNamesListThem) {
  std::vector<std::string> names = paradigm_names();
  for (const char* n : {"baseline", "dpsgd", "coreset", "distill"})
    EXPECT_NE(std::find(names.begin(), names.end(), n), names.end()) << n;
  EXPECT_EQ(&find_paradigm("coreset"), find_paradigm_or_null("coreset"));
  EXPECT_EQ(find_paradigm_or_null("diffusion_kip"), nullptr);
  try {
    find_paradigm("diffusion_kip");
    FAIL() << "an unknown paradigm was found";
  } catch (const Error& e) {
    test::expect_has(e.what(), "unknown paradigm 'diffusion_kip' (known: baseline, ");
  }
}

TEST(ParadigmRegistry, EveryParadigmHasItsTestsConfigAndReportSection) {
  const std::set<std::string> tests = gtest_names();
  for (const Paradigm* p : registered_paradigms()) {
    SCOPED_TRACE(p->name());
    EXPECT_FALSE(p->description().empty());
    const ParadigmTests t = p->tests();
    for (const std::string& name : {t.config_test, t.end_to_end_test, t.report_test})
      EXPECT_TRUE(tests.count(name)) << p->name() << " declares test '" << name << "', which does not exist";
    ASSERT_TRUE(fs::exists(kSource / t.small_config)) << t.small_config;
    RunConfig c = load_config((kSource / t.small_config).string());
    EXPECT_EQ(c.paradigm, p->name()) << t.small_config;
    EXPECT_LE(c.dataset.n_train, 1000) << t.small_config << " must stay small enough for a 2-core CPU";

    // A report section from a summary of one finished shadow (no paradigm record: the section says so).
    audit::ShadowEntry e;
    e.state = audit::ShadowState::done;
    e.metrics = {{"test_accuracy", 0.5}, {"train_accuracy", 0.9}, {"device", "cpu"}, {"seconds", {{"train", 1.0}}}};
    audit::ojson s = audit::build_summary("/x", c.resolved, {e}, nullptr, "not run");
    audit::ReportDoc with("t"), without("t");
    p->report_section(with, s);
    EXPECT_GT(with.markdown().size(), without.markdown().size() + 20) << "an empty report section";
  }
}

TEST(ParadigmRegistry, AParadigmsSectionIsRefusedUnderAnother) {
  const std::string base = R"({"dataset": {"name": "shapes10", "train": 100, "test": 20},
    "model": {"name": "wrn16_4", "width": 8}, "audit": {"num_audit": 10},
    "recipe": {"epochs": 1, "batch_size": 10, "optimizer": {"name": "sgd", "lr": 0.1}},)";
  test::expect_has(test::config_problems(base + R"("paradigm": "baseline", "coreset": {"fraction": 0.5}})"),
                   "coreset: only used by paradigm coreset");
  test::expect_has(test::config_problems(base + R"("paradigm": "coreset", "dpsgd": {"noise_multiplier": 1}})"),
                   "dpsgd: only used by paradigm dpsgd");
  EXPECT_EQ(test::config_problems(base + R"("paradigm": "coreset", "coreset": {"method": "uniform", "fraction": 0.5}})"), "");
}

TEST(ParadigmRegistry, TheEngineKnowsNoParadigmAndNoNameIsComparedOutsideItsFolder) {
  for (const auto& [path, text] : sources_under("paradigms/engine")) {
    std::smatch m;
    std::regex include(R"(#include "paradigms/([a-z_]+)/)");
    for (auto it = std::sregex_iterator(text.begin(), text.end(), include); it != std::sregex_iterator(); ++it)
      EXPECT_EQ((*it)[1].str(), "engine") << path << " includes a paradigm folder";
    EXPECT_EQ(text.find("#include \"paradigms/paradigm.h\""), std::string::npos) << path << " includes the paradigm registry";
  }
  std::vector<std::pair<fs::path, std::string>> files = sources_under("paradigms");
  for (auto& f : sources_under("tools")) files.push_back(f);
  for (const std::string& name : paradigm_names()) {
    std::regex compared("(==|!=)\\s*\"" + name + "\"|\"" + name + "\"\\s*(==|!=)");
    for (const auto& [path, text] : files) {
      if (path.string().starts_with("paradigms/" + name + "/")) continue;
      EXPECT_FALSE(std::regex_search(text, compared)) << path << " compares the paradigm name '" << name << "'";
    }
  }
}
