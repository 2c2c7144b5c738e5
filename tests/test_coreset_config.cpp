// The "coreset" configuration section: every method parses with its defaults, the resolved form parses
// back, the shipped configs/coreset_*.json are the paper's setting (fraction 0.4, the baseline recipe), and
// mistakes (missing or unknown method, fraction out of range, too many selection epochs, keys a method does
// not use, a coreset section without the paradigm) are reported with their key paths.
#include <filesystem>

#include "paradigms/config.h"
#include "paradigms/coreset/coreset_config.h"
#include "tests/config_test_util.h"
#include "tests/test_util.h"

using namespace sp;
using coreset::Method;

namespace {

std::string with_coreset(const std::string& section, const std::string& paradigm = "coreset") {
  return R"({
  "paradigm": ")" + paradigm + R"(",
  "dataset": {"name": "shapes10", "train": 300, "test": 50},
  "model": {"name": "resnet18", "width": 8},
  "recipe": {"epochs": 6, "batch_size": 32, "optimizer": {"name": "sgd", "lr": 0.05}},
  "audit": {"num_audit": 20})" + (section.empty() ? "" : ",\n  \"coreset\": " + section) + "\n}";
}

std::string problems(const std::string& text) { return test::config_problems(text); }
using test::expect_has;

}  // namespace

TEST(CoresetConfig, EveryMethodParsesWithDefaults) {
  RunConfig c = parse_config_text(with_coreset(R"({"method": "uniform", "fraction": 0.4})"));
  EXPECT_EQ(c.paradigm, "coreset");
  EXPECT_EQ(c.settings<coreset::CoresetConfig>().method, Method::uniform);
  EXPECT_DOUBLE_EQ(c.settings<coreset::CoresetConfig>().fraction, 0.4);
  EXPECT_TRUE(c.settings<coreset::CoresetConfig>().balance);
  EXPECT_EQ(c.resolved["coreset"], nlohmann::json({{"method", "uniform"}, {"fraction", 0.4}, {"balance", true}}));

  c = parse_config_text(with_coreset(R"({"method": "forgetting", "fraction": 0.5, "balance": false})"));
  EXPECT_EQ(c.settings<coreset::CoresetConfig>().method, Method::forgetting);
  EXPECT_FALSE(c.settings<coreset::CoresetConfig>().balance);
  EXPECT_EQ(c.settings<coreset::CoresetConfig>().selection_epochs, 6) << "default: min(10, recipe.epochs)";
  c = parse_config_text(with_coreset(R"({"method": "el2n", "fraction": 0.4, "selection_epochs": 2})"));
  EXPECT_EQ(c.settings<coreset::CoresetConfig>().selection_epochs, 2);
  EXPECT_EQ(c.settings<coreset::CoresetConfig>().repeats, 10);
  c = parse_config_text(with_coreset(R"({"method": "grand", "fraction": 0.4, "selection_epochs": 0, "repeats": 3})"));
  EXPECT_EQ(c.settings<coreset::CoresetConfig>().method, Method::grand);
  EXPECT_EQ(c.settings<coreset::CoresetConfig>().selection_epochs, 0) << "GraNd at initialisation is allowed";
  EXPECT_EQ(c.settings<coreset::CoresetConfig>().repeats, 3);
  c = parse_config_text(with_coreset(R"({"method": "uncertainty", "fraction": 0.4, "score": "margin"})"));
  EXPECT_EQ(c.settings<coreset::CoresetConfig>().score, coreset::Uncertainty::margin);
  EXPECT_EQ(c.resolved["coreset"]["score"], "margin");
  for (const char* m : {"herding", "kcenter"}) {
    c = parse_config_text(with_coreset(std::string(R"({"method": ")") + m + R"(", "fraction": 1})"));
    EXPECT_EQ(coreset::method_name(c.settings<coreset::CoresetConfig>().method), m);
    EXPECT_DOUBLE_EQ(c.settings<coreset::CoresetConfig>().fraction, 1.0);
  }
  // The resolved form parses to the same configuration.
  RunConfig again = parse_config(c.resolved);
  EXPECT_EQ(again.resolved, c.resolved);
  EXPECT_EQ(again.identity(), c.identity());
}

TEST(CoresetConfig, MistakesNameTheirKeyPaths) {
  expect_has(problems(with_coreset("")), "coreset.method: missing (required)");
  expect_has(problems(with_coreset("")), "coreset.fraction: missing (required)");
  expect_has(problems(with_coreset(R"({"method": "craig", "fraction": 0.4})")),
             "coreset.method: 'craig' is not one of uniform, forgetting, el2n, grand, uncertainty, herding, kcenter");
  expect_has(problems(with_coreset(R"({"method": "uniform", "fraction": 0})")), "coreset.fraction: must be above 0");
  expect_has(problems(with_coreset(R"({"method": "uniform", "fraction": 1.5})")), "coreset.fraction:");
  expect_has(problems(with_coreset(R"({"method": "forgetting", "fraction": 0.4, "selection_epochs": 7})")),
             "coreset.selection_epochs: 7 must not exceed recipe.epochs (6)");
  expect_has(problems(with_coreset(R"({"method": "forgetting", "fraction": 0.4, "selection_epochs": 0})")),
             "coreset.selection_epochs:");
  expect_has(problems(with_coreset(R"({"method": "forgetting", "fraction": 0.4, "repeats": 3})")),
             "coreset.repeats: not used by method forgetting");
  expect_has(problems(with_coreset(R"({"method": "uniform", "fraction": 0.4, "selection_epochs": 3})")),
             "coreset.selection_epochs: not used by method uniform");
  expect_has(problems(with_coreset(R"({"method": "el2n", "fraction": 0.4, "score": "entropy"})")),
             "coreset.score: not used by method el2n");
  expect_has(problems(with_coreset(R"({"method": "uncertainty", "fraction": 0.4, "score": "variance"})")),
             "coreset.score: 'variance' is not one of least_confidence, entropy, margin");
  expect_has(problems(with_coreset(R"({"method": "uniform", "fraction": 0.4, "fractoin": 0.5})")),
             "coreset.fractoin: unknown key (did you mean 'fraction'?)");
  expect_has(problems(with_coreset(R"({"method": "uniform", "fraction": 0.4})", "baseline")),
             "coreset: only used by paradigm coreset");
}

TEST(CoresetConfig, ShippedConfigsAreThePaperSetting) {
  const std::string dir = std::string(SP_SOURCE_DIR) + "/configs/";
  RunConfig base = load_config(dir + "baseline_cifar10.json");
  for (const std::string& m : coreset::method_names()) {
    SCOPED_TRACE(m);
    RunConfig c = load_config(dir + "coreset_" + m + ".json");
    EXPECT_EQ(c.paradigm, "coreset");
    EXPECT_EQ(coreset::method_name(c.settings<coreset::CoresetConfig>().method), m);
    EXPECT_DOUBLE_EQ(c.settings<coreset::CoresetConfig>().fraction, 0.4);
    EXPECT_TRUE(c.settings<coreset::CoresetConfig>().balance);
    // Everything but the paradigm is the baseline experiment.
    nlohmann::json a = c.identity(), b = base.identity();
    a.erase("paradigm");
    a.erase("coreset");
    b.erase("paradigm");
    EXPECT_EQ(a, b);
  }
  // The CPU comparisons' arms (docs/paradigms.md) differ only in the paradigm and its coreset section.
  for (const std::string& prefix : {"coreset_cpu_", "coreset_cifar10_cpu_"}) {
    RunConfig arm_base = load_config(dir + prefix + "baseline.json");
    EXPECT_EQ(arm_base.paradigm, "baseline");
    for (const std::string& m : {"uniform", "forgetting", "el2n"}) {
      SCOPED_TRACE(prefix + m);
      RunConfig c = load_config(dir + prefix + m + ".json");
      EXPECT_EQ(coreset::method_name(c.settings<coreset::CoresetConfig>().method), m);
      EXPECT_DOUBLE_EQ(c.settings<coreset::CoresetConfig>().fraction, 0.4);
      nlohmann::json a = c.identity(), b = arm_base.identity();
      a.erase("paradigm");
      a.erase("coreset");
      b.erase("paradigm");
      EXPECT_EQ(a, b);
    }
  }
  RunConfig small = load_config(dir + "coreset_small_cpu.json");
  EXPECT_EQ(small.paradigm, "coreset");
  EXPECT_EQ(small.dataset.kind, "shapes10");
  EXPECT_LE(small.num_shadows, 8);
  EXPECT_LE(small.dataset.n_train, 1000);
}
