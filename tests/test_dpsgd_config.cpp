// The "dpsgd" configuration section and run plans: the shipped dpsgd_* configs parse to the reference
// settings (paper-protocol.md §1.8) and their calibrated sigma meets the target epsilon; every bad setting
// (q outside (0, 1], sigma <= 0, delta outside (0, 1), no step, an unreachable target epsilon, both or
// neither of sigma and target, a batch-norm model, a dpsgd section under another paradigm) is an error
// naming its key.
#include <filesystem>

#include "paradigms/config.h"
#include "paradigms/dpsgd/dp_config.h"
#include "paradigms/dpsgd/calibrate.h"
#include "tests/test_util.h"

using namespace sp;

namespace {

const char* kDp = R"({
  "paradigm": "dpsgd",
  "dataset": {"name": "shapes10", "train": 300, "test": 50},
  "model": {"name": "wrn16_4", "width": 8},
  "recipe": {"epochs": 3, "batch_size": 32, "optimizer": {"name": "sgd", "lr": 4}},
  "audit": {"num_audit": 20},
  "dpsgd": {"clip_norm": 1.0, "noise_multiplier": 1.1, "delta": 1e-5, "augmult": 2, "physical_batch": 16,
            "ema_decay": 0.9999}
})";

std::string edit(const std::string& from, const std::string& to) {
  std::string s = kDp;
  size_t at = s.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return s.replace(at, from.size(), to);
}

std::string problems(const std::string& text) {
  return test::error_of([&] { parse_config_text(text, "dp.json"); });
}

void expect_has(const std::string& msg, const std::string& needle) {
  EXPECT_NE(msg.find(needle), std::string::npos) << "expected '" << needle << "' in:\n" << msg;
}

}  // namespace

TEST(DpsgdConfig, ParsesAndPlans) {
  RunConfig c = parse_config_text(kDp);
  EXPECT_EQ(c.paradigm, "dpsgd");
  EXPECT_EQ(c.settings<dpsgd::DpsgdSettings>().noise_multiplier, 1.1);
  EXPECT_EQ(c.settings<dpsgd::DpsgdSettings>().augmult, 2);
  EXPECT_EQ(c.settings<dpsgd::DpsgdSettings>().physical_batch, 16);
  EXPECT_EQ(c.settings<dpsgd::DpsgdSettings>().accountant, "rdp");
  EXPECT_EQ(c.resolved["dpsgd"]["ema_decay"], 0.9999);
  // N = 290 examples (280 non-audit + 10 IN): q = 32 / 290, floor(290 / 32) = 9 steps per epoch.
  TrainRecipe r = c.recipe_for(290);
  EXPECT_EQ(r.batch_size, 32);
  dpsgd::DpPlan p = dpsgd::plan_dpsgd(c.settings<dpsgd::DpsgdSettings>(), 290, 32, 3);
  EXPECT_DOUBLE_EQ(p.sample_rate, 32.0 / 290.0);
  EXPECT_EQ(p.steps_per_epoch, 9);
  EXPECT_EQ(p.steps, 27);
  EXPECT_DOUBLE_EQ(p.expected_batch(), 32.0);
  EXPECT_DOUBLE_EQ(p.epsilon, dpsgd::rdp_epsilon({{32.0 / 290.0, 1.1, 27}}, 1e-5).epsilon);
  nlohmann::json j = dpsgd::plan_json(c.settings<dpsgd::DpsgdSettings>(), p);
  for (const char* k : {"epsilon", "delta", "noise_multiplier", "clip_norm", "sample_rate", "steps", "augmult",
                        "accountant"})
    EXPECT_TRUE(j.contains(k)) << k;
  // A baseline configuration must not carry a dpsgd section.
  expect_has(problems(edit("\"paradigm\": \"dpsgd\"", "\"paradigm\": \"baseline\"")), "dpsgd: only used by paradigm dpsgd");
}

TEST(DpsgdConfig, TargetEpsilonCalibratesSigma) {
  std::string text = edit("\"noise_multiplier\": 1.1", "\"target_epsilon\": 4");
  RunConfig c = parse_config_text(text);
  dpsgd::DpPlan p = dpsgd::plan_dpsgd(c.settings<dpsgd::DpsgdSettings>(), 290, 32, 3);
  EXPECT_TRUE(p.calibrated);
  EXPECT_LE(p.epsilon, 4.0);
  EXPECT_GT(p.epsilon, 3.99);
  EXPECT_NEAR(dpsgd::rdp_epsilon({{p.sample_rate, p.noise_multiplier, p.steps}}, 1e-5).epsilon, p.epsilon, 1e-12);
  // Reference table (lira-dpsgd.md §3.6): N = 50000, B = 256, 100 epochs, epsilon 8 -> sigma 0.7724.
  dpsgd::DpsgdSettings d;
  d.target_epsilon = 8;
  dpsgd::DpPlan ref = dpsgd::plan_dpsgd(d, 50000, 256, 100);
  EXPECT_EQ(ref.steps, 19500);  // floor(50000 / 256) = 195 per epoch (Opacus's int(1/q))
  EXPECT_NEAR(ref.noise_multiplier, 0.7724, 0.002);
}

TEST(DpsgdConfig, BadSettingsNameTheirKey) {
  expect_has(problems(edit("\"noise_multiplier\": 1.1", "\"noise_multiplier\": 0")), "dpsgd.noise_multiplier: sigma must be > 0");
  expect_has(problems(edit("\"noise_multiplier\": 1.1", "\"noise_multiplier\": -2")), "dpsgd.noise_multiplier");
  expect_has(problems(edit("\"delta\": 1e-5", "\"delta\": 1")), "dpsgd.delta: must be in (0, 1)");
  expect_has(problems(edit("\"delta\": 1e-5", "\"delta\": 0")), "dpsgd.delta: must be in (0, 1)");
  expect_has(problems(edit("\"clip_norm\": 1.0", "\"clip_norm\": 0")), "dpsgd.clip_norm");
  expect_has(problems(edit("\"noise_multiplier\": 1.1", "\"noise_multiplier\": 1.1, \"target_epsilon\": 2")),
             "give exactly one of noise_multiplier and target_epsilon");
  expect_has(problems(edit("\"noise_multiplier\": 1.1, ", "")), "dpsgd.target_epsilon: give exactly one");
  expect_has(problems(edit("\"augmult\": 2", "\"augmult\": 0")), "dpsgd.augmult");
  expect_has(problems(edit("\"augmult\": 2", "\"augmult\": 2, \"clip\": 1")), "dpsgd.clip");
  // q > 1: the expected batch exceeds the (known) training set.
  expect_has(problems(edit("\"batch_size\": 32", "\"batch_size\": 1000")), "recipe.batch_size: expected batch 1000");
  // An unreachable target epsilon.
  expect_has(problems(edit("\"noise_multiplier\": 1.1", "\"target_epsilon\": 1e-9")), "dpsgd.target_epsilon: 1e-09 cannot be met");
  // Batch norm is refused.
  expect_has(problems(edit("\"wrn16_4\"", "\"resnet18\"")), "model.name: resnet18 uses batch norm");
  // The plan-level checks (also reached when the training set size is only known at training time).
  dpsgd::DpsgdSettings d;
  d.noise_multiplier = 1;
  test::expect_error_mentioning([&] { dpsgd::plan_dpsgd(d, 100, 200, 1); }, "recipe.batch_size");
  test::expect_error_mentioning([&] { dpsgd::plan_dpsgd(d, 100, 0, 1); }, "must be in (0, 1]");
  test::expect_error_mentioning([&] { dpsgd::plan_dpsgd(d, 100, 10, 0); }, "recipe.epochs: 0 epochs give 0 DP-SGD steps");
  d.delta = 1.5;
  test::expect_error_mentioning([&] { dpsgd::plan_dpsgd(d, 100, 10, 1); }, "dpsgd.delta");
  d.delta = 1e-5;
  d.noise_multiplier = 0;
  test::expect_error_mentioning([&] { dpsgd::plan_dpsgd(d, 100, 10, 1); }, "exactly one");
  d.target_epsilon = 1e-9;
  test::expect_error_mentioning([&] { dpsgd::plan_dpsgd(d, 100, 10, 1); }, "dpsgd.target_epsilon");
}

TEST(DpsgdConfig, ShippedConfigsAreTheReferenceSettings) {
  const std::string dir = std::string(SP_SOURCE_DIR) + "/configs/";
  RunConfig m = load_config(dir + "dpsgd_medium.json");
  EXPECT_EQ(m.model.name, "wrn16_4");
  EXPECT_EQ(m.model.width, 64);
  EXPECT_EQ(m.recipe.batch_size, 2048);
  EXPECT_EQ(m.recipe.epochs, 200);
  EXPECT_EQ(m.recipe.schedule.base_lr, 4.0);
  EXPECT_EQ(m.settings<dpsgd::DpsgdSettings>().noise_multiplier, 0.2);
  EXPECT_EQ(m.settings<dpsgd::DpsgdSettings>().clip_norm, 1.0);
  EXPECT_EQ(m.settings<dpsgd::DpsgdSettings>().augmult, 8);
  EXPECT_EQ(m.settings<dpsgd::DpsgdSettings>().delta, 1e-5);
  EXPECT_EQ(m.settings<dpsgd::DpsgdSettings>().ema_decay, 0.9999);
  RunConfig h = load_config(dir + "dpsgd_high.json");
  EXPECT_EQ(h.recipe.batch_size, 64);
  EXPECT_EQ(h.recipe.epochs, 16);
  EXPECT_EQ(h.settings<dpsgd::DpsgdSettings>().noise_multiplier, 0.00625);
  RunConfig v = load_config(dir + "dpsgd_very_high.json");
  EXPECT_EQ(v.recipe.batch_size, 64);
  EXPECT_EQ(v.recipe.epochs, 25);
  EXPECT_EQ(v.settings<dpsgd::DpsgdSettings>().noise_multiplier, 0.003125);
  for (int eps : {1, 2, 4, 8}) {
    RunConfig e = load_config(dir + "dpsgd_eps" + std::to_string(eps) + ".json");
    EXPECT_EQ(e.settings<dpsgd::DpsgdSettings>().target_epsilon, double(eps));
    EXPECT_EQ(e.settings<dpsgd::DpsgdSettings>().noise_multiplier, 0.0);
    EXPECT_EQ(e.model.name, "wrn16_4");
  }
  // Their epsilon on a CIFAR-10 shadow (N = 49,750) is the paper-protocol.md §1.8 table's: about 3.5e3, 1.7e8
  // and 1.1e9, with the optimal RDP order at the grid's smallest, which the plan notes.
  const int64_t N = 49750;
  dpsgd::DpPlan pm = dpsgd::plan_dpsgd(m.settings<dpsgd::DpsgdSettings>(), N, 2048, 200), ph = dpsgd::plan_dpsgd(h.settings<dpsgd::DpsgdSettings>(), N, 64, 16),
                pv = dpsgd::plan_dpsgd(v.settings<dpsgd::DpsgdSettings>(), N, 64, 25);
  EXPECT_EQ(pm.steps, 200 * 24);
  EXPECT_NEAR(pm.epsilon / 3.5e3, 1.0, 0.02);
  EXPECT_NEAR(ph.epsilon / 1.7e8, 1.0, 0.05);
  EXPECT_NEAR(pv.epsilon / 1.1e9, 1.0, 0.05);
  EXPECT_NE(pm.note.find("smallest"), std::string::npos) << pm.note;
  RunConfig s = load_config(dir + "dpsgd_small_cpu.json");
  EXPECT_EQ(s.paradigm, "dpsgd");
  EXPECT_EQ(s.dataset.kind, "shapes10");
}
