// The "dfkd" configuration section (paradigms/dfkd/dfkd_config.h): every mistake named by its key path, the
// reference defaults of each method, the teachers' baseline configuration, and the shipped configurations.
#include <gtest/gtest.h>

#include <filesystem>

#include "paradigms/dfkd/dfkd_config.h"
#include "paradigms/dfkd/dfkd_shadow.h"
#include "tests/config_test_util.h"

using namespace sp;
using sp::test::expect_has;
namespace fs = std::filesystem;

namespace {

const char* kTeacher = R"({"model": {"name": "resnet18", "width": 8}, "recipe": {"epochs": 2, "batch_size": 16, "optimizer": {"name": "adam", "lr": 0.001}}})";

std::string with_dfkd(const std::string& section, const std::string& schedule = "") {
  return std::string(R"({"paradigm": "dfkd", "num_shadows": 4,
    "dataset": {"name": "shapes10", "train": 200, "test": 50},
    "model": {"name": "resnet18", "width": 8},
    "recipe": {"epochs": 30, "batch_size": 32, "optimizer": {"name": "sgd", "lr": 0.1, "momentum": 0.9})") +
         schedule + R"(},
    "audit": {"num_audit": 20})" +
         (section.empty() ? std::string() : ", \"dfkd\": " + section) + "}";
}

std::string section(const std::string& extra) {
  return std::string(R"({"teacher": )") + kTeacher + (extra.empty() ? "" : ", " + extra) + "}";
}

}  // namespace

TEST(DfkdConfig, MistakesNameTheirKeyPaths) {
  using sp::test::config_problems;
  expect_has(config_problems(with_dfkd("{}")), "dfkd.teacher: missing (required)");
  expect_has(config_problems(with_dfkd(section(R"("method": "cmi")"))), "dfkd.method: 'cmi' is not one of bn, fast");
  expect_has(config_problems(with_dfkd(section(R"("warmup": 30)"))), "dfkd.warmup: 30 must be below recipe.epochs (30)");
  expect_has(config_problems(with_dfkd(section(R"("kd_steps": 4, "student_passes": 2)"))),
             "dfkd.kd_steps: give kd_steps (student steps per epoch) or student_passes");
  expect_has(config_problems(with_dfkd(section(R"("student_passes": 0)"))), "dfkd.student_passes: the student needs");
  expect_has(config_problems(with_dfkd(section(R"("synthesis": {"bn": 0})"))), "dfkd.synthesis.bn: must be > 0");
  expect_has(config_problems(with_dfkd(section(R"("synthesis": {"reset_epoch": 3})"))),
             "dfkd.synthesis.reset_epoch: only used by method fast");
  expect_has(config_problems(with_dfkd(section(R"("synthesis": {"g_step": 3})"))),
             "dfkd.synthesis.g_step: unknown key (did you mean 'g_steps'?)");
  expect_has(config_problems(with_dfkd(section(R"("temperature": 0)"))), "dfkd.temperature:");
  expect_has(config_problems(with_dfkd(section(""), R"(, "schedule": {"kind": "warmup_cosine"})")),
             "recipe: schedule: the DFKD student's learning rate follows dfkd.cosine_t_max");
  // The teacher: an experiment or a model and recipe, each checked as the baseline checks its own.
  expect_has(config_problems(with_dfkd(R"({"teacher": {"model": {"name": "resnet18"}}})")), "dfkd.teacher.recipe: missing");
  expect_has(config_problems(with_dfkd(R"({"teacher": {"recipe": {"epochs": 0}}})")), "dfkd.teacher");
  expect_has(config_problems(with_dfkd(R"({"teacher": {"recipe": {"epochs": 0}}})")), "recipe.epochs");
  expect_has(config_problems(with_dfkd(R"({"teacher": {"experiment": "x", "recipe": {}}})")),
             "dfkd.teacher.recipe: the teachers come from dfkd.teacher.experiment");
  expect_has(config_problems(with_dfkd(R"({"teacher": {"experiment": ""}})")), "dfkd.teacher.experiment: must name a directory");
  expect_has(config_problems(with_dfkd(R"({"teacher": {"experimnt": "x"}})")), "dfkd.teacher.experimnt: unknown key");
  expect_has(config_problems(std::string(R"({"paradigm": "baseline", "dataset": {"name": "shapes10"}, "model": {"name": "resnet18"},
    "recipe": {"epochs": 1}, "dfkd": {}})")),
             "dfkd: only used by paradigm dfkd");
}

TEST(DfkdConfig, EachMethodDefaultsToItsReference) {
  RunConfig bn = parse_config_text(with_dfkd(section("")));
  const auto& b = bn.settings<dfkd::DfkdConfig>();
  EXPECT_EQ(b.method, dfkd::Method::bn);
  EXPECT_EQ(b.warmup, 20);
  EXPECT_EQ(b.student_passes, 5);
  EXPECT_EQ(b.kd_steps, 0);
  EXPECT_DOUBLE_EQ(b.temperature, 20);
  EXPECT_EQ(b.latent, 256);
  EXPECT_EQ(b.width, 64);
  EXPECT_EQ(b.synthesis.batch, 256);
  EXPECT_EQ(b.synthesis.g_steps, 2);
  EXPECT_DOUBLE_EQ(b.synthesis.lr_g, 5e-3);
  EXPECT_DOUBLE_EQ(b.synthesis.lr_z, 0.015);
  EXPECT_DOUBLE_EQ(b.synthesis.oh_weight, 0);
  EXPECT_DOUBLE_EQ(b.synthesis.adv_weight, 0);
  EXPECT_DOUBLE_EQ(b.synthesis.bn_momentum, 0.9);
  EXPECT_FALSE(b.synthesis.meta);

  RunConfig fast = parse_config_text(with_dfkd(section(R"("method": "fast", "warmup": 2)")));
  const auto& f = fast.settings<dfkd::DfkdConfig>();
  EXPECT_TRUE(f.synthesis.meta);
  EXPECT_EQ(f.kd_steps, 400);
  EXPECT_EQ(f.student_passes, 0);
  EXPECT_DOUBLE_EQ(f.synthesis.bn_weight, 10);
  EXPECT_DOUBLE_EQ(f.synthesis.oh_weight, 0.5);
  EXPECT_DOUBLE_EQ(f.synthesis.adv_weight, 1.33);
  EXPECT_EQ(f.synthesis.reset_epoch, 120);
  EXPECT_EQ(fast.resolved["dfkd"]["synthesis"]["reset_epoch"], 120);
}

TEST(DfkdConfig, TeachersAreABaselineOnTheStudentsData) {
  RunConfig c = parse_config_text(with_dfkd(section(R"("warmup": 2)")));
  RunConfig t = dfkd::teacher_run_config(c, c.settings<dfkd::DfkdConfig>());
  EXPECT_EQ(t.paradigm, "baseline");
  EXPECT_EQ(t.seed, c.seed);
  EXPECT_EQ(t.num_shadows, c.num_shadows);
  EXPECT_EQ(t.resolved["dataset"], c.resolved["dataset"]);
  EXPECT_EQ(t.resolved["audit"], c.resolved["audit"]);
  EXPECT_EQ(t.recipe.epochs, 2);
  // The teachers are queried as their own recipe trains them, whatever views the student's audit names.
  std::string text = with_dfkd(R"({"warmup": 2, "teacher": {"recipe": {"epochs": 3, "batch_size": 8,
      "optimizer": {"name": "sgd", "lr": 0.1}, "augmentation": {"crop_pad": 0, "flip": false}}}})");
  const std::string at = R"("num_audit": 20)";
  text.replace(text.find(at), at.size(), at + R"(, "query_views": "flips")");
  RunConfig v = parse_config_text(text);
  EXPECT_EQ(v.query_views, data::QueryViews::flips);
  RunConfig tv = dfkd::teacher_run_config(v, v.settings<dfkd::DfkdConfig>());
  EXPECT_EQ(tv.query_views, data::QueryViews::clean);
  EXPECT_EQ(tv.resolved["audit"]["num_audit"], 20);
  EXPECT_EQ(t.recipe.optim.kind, OptimKind::adam);
  // Without a model the teacher is the student's architecture.
  RunConfig d = parse_config_text(with_dfkd(R"({"warmup": 2, "teacher": {"recipe": {"epochs": 3, "batch_size": 8, "optimizer": {"name": "sgd", "lr": 0.1}}}})"));
  EXPECT_EQ(dfkd::teacher_run_config(d, d.settings<dfkd::DfkdConfig>()).resolved["model"], d.resolved["model"]);
}

TEST(DfkdConfig, StudentRateIsTheReferenceCosinePerEpoch) {
  dfkd::DfkdConfig c;
  c.warmup = 20;
  c.cosine_t_max = 200;
  c.eta_min = 2e-4;
  EXPECT_DOUBLE_EQ(dfkd::student_lr(c, 0.1, 20), 0.1);
  EXPECT_NEAR(dfkd::student_lr(c, 0.1, 120), (0.1 + 2e-4) / 2, 1e-15);
  EXPECT_NEAR(dfkd::student_lr(c, 0.1, 220), 2e-4, 1e-15);
  EXPECT_GT(dfkd::student_lr(c, 0.1, 239), 2e-4);  // past T_max it rises again, as PyTorch's does
}

TEST(DfkdConfig, ShippedConfigsParse) {
  int n = 0;
  for (const auto& e : fs::directory_iterator(std::string(SP_SOURCE_DIR) + "/configs")) {
    const std::string name = e.path().filename().string();
    if (name.rfind("dfkd_", 0) != 0) continue;
    SCOPED_TRACE(name);
    RunConfig c = load_config(e.path().string());
    EXPECT_EQ(c.paradigm, "dfkd");
    const auto& d = c.settings<dfkd::DfkdConfig>();
    if (d.teacher_experiment.empty()) EXPECT_NO_THROW(dfkd::teacher_run_config(c, d));
    ++n;
  }
  EXPECT_GE(n, 4);
  RunConfig paper = load_config(std::string(SP_SOURCE_DIR) + "/configs/dfkd_cifar10.json");
  EXPECT_EQ(paper.num_shadows, 32);
  EXPECT_EQ(paper.recipe.epochs, 240);
  EXPECT_EQ(paper.recipe.batch_size, 256);
  const auto& d = paper.settings<dfkd::DfkdConfig>();
  EXPECT_EQ(d.warmup, 20);
  EXPECT_EQ(d.student_passes, 5);
  EXPECT_DOUBLE_EQ(paper.recipe.schedule.base_lr, 0.1);
  EXPECT_DOUBLE_EQ(paper.recipe.optim.weight_decay, 5e-4);
}
