// The experiment configuration: the shipped configs parse to the paper's settings, defaults are filled in,
// schedules in epochs become steps, and every kind of mistake (typos, wrong types, out-of-range values,
// keys that do not apply, class-count mismatches, duplicate keys, syntax errors) is reported with its key
// path, all problems of a file at once. Dataset subsets are seeded subsets of the splits. audit.query_views
// follows the recipe's augmentation unless given, is always resolved, and a bad value names the key and
// the allowed values; every shipped configuration, of every paradigm, resolves it by that rule.
#include "paradigms/config.h"
#include "paradigms/distill/distill_config.h"

#include <unistd.h>

#include <filesystem>
#include <set>

#include "data/png.h"
#include "paradigms/json_fields.h"
#include "tests/config_test_util.h"
#include "tests/test_util.h"

using namespace sp;

namespace {

const char* kMinimal = R"({
  "dataset": {"name": "shapes10", "train": 300, "test": 50},
  "model": {"name": "resnet18", "width": 8},
  "recipe": {"epochs": 3, "batch_size": 32, "optimizer": {"name": "sgd", "lr": 0.05}},
  "audit": {"num_audit": 20}
})";

std::string problems(const std::string& text) { return test::config_problems(text); }
using test::expect_has;

// kMinimal with one replacement applied.
std::string edit(const std::string& from, const std::string& to) {
  std::string s = kMinimal;
  size_t at = s.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return s.replace(at, from.size(), to);
}

}  // namespace

TEST(Config, ShippedBaselineIsThePaperSetting) {
  RunConfig c = load_config(std::string(SP_SOURCE_DIR) + "/configs/baseline_cifar10.json");
  EXPECT_EQ(c.paradigm, "baseline");
  EXPECT_EQ(c.num_shadows, 32);
  EXPECT_EQ(c.dataset.kind, "cifar10");
  EXPECT_EQ(c.model.name, "resnet18");
  EXPECT_EQ(c.model.width, 64);
  EXPECT_EQ(make_model(c.model)->params().numel(), 11173962);
  EXPECT_EQ(c.num_audit, 500);
  EXPECT_EQ(c.canary, data::CanaryType::mislabel);
  EXPECT_EQ(c.recipe.batch_size, 256);
  EXPECT_EQ(c.recipe.epochs, 200);
  EXPECT_EQ(c.recipe.optim.kind, OptimKind::sgd);
  EXPECT_DOUBLE_EQ(c.recipe.schedule.base_lr, 0.1);
  EXPECT_DOUBLE_EQ(c.recipe.optim.momentum, 0.9);
  EXPECT_TRUE(c.recipe.optim.nesterov);
  EXPECT_DOUBLE_EQ(c.recipe.optim.weight_decay, 5e-4);
  EXPECT_TRUE(c.recipe.augment);
  EXPECT_EQ(c.recipe.augment_cfg.pad, 4);
  EXPECT_TRUE(c.recipe.augment_cfg.flip);
  EXPECT_EQ(c.precision, Precision::automatic);
  // 49,750 images at batch 256: 195 steps per epoch; warm-up 1 epoch, x0.2 at epochs 60/120/160.
  TrainRecipe r = c.recipe_for(49750);
  EXPECT_EQ(r.schedule.warmup_steps, 195);
  EXPECT_EQ(r.schedule.milestones, (std::vector<int64_t>{60 * 195, 120 * 195, 160 * 195}));
  LrSchedule s(r.schedule);
  EXPECT_DOUBLE_EQ(s.lr(194), 0.1);
  EXPECT_NEAR(s.lr(61 * 195), 0.02, 1e-15);
}

TEST(Config, ShippedSmallConfigParses) {
  RunConfig c = load_config(std::string(SP_SOURCE_DIR) + "/configs/small_cpu.json");
  EXPECT_EQ(c.dataset.kind, "shapes10");
  EXPECT_LE(c.model.width, 16);
  EXPECT_LE(c.num_shadows, 8);
}

TEST(Config, EveryShippedConfigLoads) {
  // A config that no longer parses (a renamed key, a typo) must fail here, not in a user's first run.
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator(std::string(SP_SOURCE_DIR) + "/configs")) {
    if (e.path().extension() != ".json") continue;
    SCOPED_TRACE(e.path().string());
    EXPECT_NO_THROW(load_config(e.path().string()));
    ++n;
  }
  EXPECT_GE(n, 10);
}

TEST(Config, DefaultsAreFilledInAndResolved) {
  RunConfig c = parse_config_text(kMinimal);
  EXPECT_EQ(c.num_shadows, 32);
  EXPECT_EQ(c.num_audit, 20);
  EXPECT_EQ(c.canary, data::CanaryType::mislabel);
  EXPECT_EQ(c.seed, 0u);
  EXPECT_EQ(c.model.num_classes, 10);
  EXPECT_EQ(c.dataset.str(), "shapes10:seed=0,train=300,test=50");
  EXPECT_EQ(c.recipe.augment_cfg.pad_mode, PadMode::zero);
  EXPECT_EQ(c.resolved["recipe"]["optimizer"]["momentum"], 0.0);
  EXPECT_EQ(c.resolved["recipe"]["schedule"]["kind"], "constant");
  EXPECT_EQ(c.resolved["device"]["precision"], "auto");
  EXPECT_FALSE(c.resolved["device"].contains("tf32"));
  EXPECT_FALSE(c.deterministic);
  EXPECT_EQ(c.resolved["device"]["deterministic"], false);
  EXPECT_EQ(c.resolved["device"]["cuda_graphs"], "off");
  EXPECT_EQ(c.resolved["device"]["progress_sync_s"], 2.0);
  EXPECT_EQ(c.execution.cuda_graphs, CudaGraphMode::off);
  // The resolved form parses to the same configuration.
  RunConfig again = parse_config(c.resolved);
  EXPECT_EQ(again.resolved, c.resolved);
  EXPECT_FALSE(c.identity().contains("device"));
}

TEST(Config, DeterminismIsADeviceSettingOutsideTheIdentity) {
  const std::string text = kMinimal;
  const size_t brace = text.rfind('}');
  RunConfig c = parse_config_text(text.substr(0, brace) + R"(, "device": {"deterministic": true}})");
  EXPECT_TRUE(c.deterministic);
  EXPECT_EQ(c.resolved["device"]["deterministic"], true);
  EXPECT_EQ(parse_config(c.resolved).deterministic, true);
  // How to run, not what: the same experiment directory serves both.
  EXPECT_EQ(c.identity(), parse_config_text(kMinimal).identity());
  expect_has(problems(text.substr(0, brace) + R"(, "device": {"deterministic": "yes"}})"),
             "device.deterministic: expected true or false");
}

TEST(Config, QueryViewsFollowTheAugmentationUnlessGiven) {
  // No augmentation section: crop_pad 4 and flip, so all 18 views.
  RunConfig c = parse_config_text(kMinimal);
  EXPECT_EQ(c.query_views, data::QueryViews::all);
  EXPECT_FALSE(c.query_views_given);
  EXPECT_EQ(c.resolved["audit"]["query_views"], "all");
  // kMinimal with the recipe's augmentation and more audit keys.
  auto with_aug = [](const std::string& aug, const std::string& audit_extra = "") {
    std::string s = edit(R"("lr": 0.05})", R"("lr": 0.05}, "augmentation": )" + aug);
    const std::string at = R"("num_audit": 20)";
    return s.replace(s.find(at), at.size(), at + audit_extra);
  };
  struct Case {
    const char* aug;
    data::QueryViews want;
  };
  for (const Case& k : {Case{R"({"crop_pad": 0, "flip": true})", data::QueryViews::flips},
                        Case{R"({"crop_pad": 0, "flip": false})", data::QueryViews::clean},
                        Case{R"({"crop_pad": 2, "flip": false})", data::QueryViews::all},
                        Case{R"({"crop_pad": 4, "pad_mode": "reflect"})", data::QueryViews::all}}) {
    SCOPED_TRACE(k.aug);
    RunConfig r = parse_config_text(with_aug(k.aug));
    EXPECT_EQ(r.query_views, k.want);
    EXPECT_FALSE(r.query_views_given);
    EXPECT_EQ(r.resolved["audit"]["query_views"], data::query_views_name(k.want));
    // The resolved form states the value, so it parses back to the same views (now as given).
    RunConfig again = parse_config(r.resolved);
    EXPECT_EQ(again.query_views, k.want);
    EXPECT_TRUE(again.query_views_given);
    EXPECT_EQ(again.resolved, r.resolved);
  }
  // Given, the key wins over the augmentation both ways, and is part of the identity.
  RunConfig given = parse_config_text(edit(R"("num_audit": 20)", R"("num_audit": 20, "query_views": "clean")"));
  EXPECT_EQ(given.query_views, data::QueryViews::clean);
  EXPECT_TRUE(given.query_views_given);
  EXPECT_EQ(json_differences(c.identity(), given.identity()),
            (std::vector<std::string>{"audit.query_views: \"all\" -> \"clean\""}));
  RunConfig more = parse_config_text(with_aug(R"({"crop_pad": 0, "flip": false})", R"(, "query_views": "all")"));
  EXPECT_EQ(more.query_views, data::QueryViews::all);

  // A bad value names the key and the allowed values; a wrong type names the key.
  expect_has(problems(edit(R"("num_audit": 20)", R"("num_audit": 20, "query_views": "flip")")),
             "audit.query_views: 'flip' is not one of all, flips, clean");
  expect_has(problems(edit(R"("num_audit": 20)", R"("num_audit": 20, "query_views": 18)")),
             "audit.query_views: expected a string, got number 18");
  expect_has(problems(edit(R"("num_audit": 20)", R"("num_audit": 20, "queryviews": "all")")),
             "audit.queryviews: unknown key (did you mean 'query_views'?)");
}

TEST(Config, EveryShippedConfigResolvesItsQueryViewsByTheRule) {
  // Each paradigm reads the audit section through parse_config; the rule is the recipe's augmentation
  // whatever the paradigm trains on (a synthetic set, a memory bank, generated images).
  std::set<std::string> paradigms;
  for (const auto& e : std::filesystem::directory_iterator(std::string(SP_SOURCE_DIR) + "/configs")) {
    if (e.path().extension() != ".json") continue;
    SCOPED_TRACE(e.path().string());
    RunConfig c = load_config(e.path().string());
    data::QueryViews want = data::default_query_views(c.recipe.augment_cfg.pad, c.recipe.augment_cfg.flip);
    if (c.paradigm == "distill") want = distill::distill_query_views(c, c.settings<distill::DistillConfig>());
    EXPECT_EQ(c.query_views, want);
    EXPECT_EQ(c.resolved["audit"]["query_views"], data::query_views_name(c.query_views));
    paradigms.insert(c.paradigm);
  }
  EXPECT_EQ(paradigms, (std::set<std::string>{"baseline", "coreset", "dfkd", "diffusion", "distill", "dpsgd"}));
  // The demo trains without augmentation: the clean view alone. The paper's setting crops and flips.
  EXPECT_EQ(load_config(std::string(SP_SOURCE_DIR) + "/configs/demo.json").query_views, data::QueryViews::clean);
  EXPECT_EQ(load_config(std::string(SP_SOURCE_DIR) + "/configs/small_cpu.json").query_views, data::QueryViews::flips);
  EXPECT_EQ(load_config(std::string(SP_SOURCE_DIR) + "/configs/baseline_cifar10.json").query_views,
            data::QueryViews::all);
  // Distillation: the audited model trains with per-sample DSA (crops and flips among its transforms) unless
  // train_augment is "none" (DC's default); the recipe has no crop or flip of its own in either case.
  EXPECT_EQ(load_config(std::string(SP_SOURCE_DIR) + "/configs/distill_dm_ipc10.json").query_views,
            data::QueryViews::all);
  EXPECT_EQ(load_config(std::string(SP_SOURCE_DIR) + "/configs/distill_cifar10_cpu_random_real_none.json").query_views,
            data::QueryViews::clean);
}

TEST(Config, ScheduleEpochsBecomeSteps) {
  RunConfig c = parse_config_text(edit(R"("lr": 0.05})", R"("lr": 0.05},
      "schedule": {"kind": "warmup_cosine", "warmup_epochs": 0.5, "min_lr": 0.001})"));
  TrainRecipe r = c.recipe_for(100);  // 4 steps per epoch at batch 32
  EXPECT_EQ(r.schedule.kind, ScheduleKind::warmup_cosine);
  EXPECT_EQ(r.schedule.warmup_steps, 2);
  EXPECT_DOUBLE_EQ(r.schedule.min_lr, 0.001);
  c = parse_config_text(edit(R"("lr": 0.05})", R"("lr": 0.05}, "drop_last": true,
      "schedule": {"kind": "step", "step_epochs": 2, "gamma": 0.5})"));
  r = c.recipe_for(100);  // 3 full batches per epoch
  EXPECT_EQ(r.schedule.step_size, 6);
  EXPECT_DOUBLE_EQ(r.schedule.gamma, 0.5);
}

TEST(Config, AdamAndAugmentationOptions) {
  RunConfig c = parse_config_text(edit(R"({"name": "sgd", "lr": 0.05})",
                                       R"({"name": "adamw", "lr": 0.001, "beta2": 0.99, "weight_decay": 0.05},
      "augmentation": {"crop_pad": 0, "flip": false})"));
  EXPECT_EQ(c.recipe.optim.kind, OptimKind::adamw);
  EXPECT_DOUBLE_EQ(c.recipe.optim.beta2, 0.99);
  EXPECT_FALSE(c.recipe.augment);
}

TEST(Config, EveryProblemIsReportedWithItsKeyPath) {
  std::string msg = problems(R"({
    "dataset": {"name": "cifar10"},
    "model": {"name": "resnet18", "num_classes": 100},
    "recipe": {"epochs": 2.5, "batch_size": "64", "optimzer": {"name": "sgd", "lr": 0.1},
               "schedule": {"kind": "multistep", "milestones": [5, 2], "min_lr": 0.1}},
    "num_shadows": 31,
    "audit": {"canary": "poison"},
    "paradigm": "kip",
    "colour": "blue"
  })");
  expect_has(msg, "test.json: ");
  expect_has(msg, "dataset.path: missing (required)");
  expect_has(msg, "model.num_classes: 100 classes, but dataset cifar10 has 10");
  expect_has(msg, "recipe.epochs: expected an integer, got number 2.5");
  expect_has(msg, "recipe.batch_size: expected an integer, got string \"64\"");
  expect_has(msg, "recipe.optimzer: unknown key (did you mean 'optimizer'?)");
  expect_has(msg, "recipe.optimizer: missing (required)");
  expect_has(msg, "recipe.schedule.milestones: must be non-decreasing");
  expect_has(msg, "recipe.schedule.min_lr: not used by schedule multistep");
  expect_has(msg, "num_shadows: 31 must be even");
  expect_has(msg, "audit.canary: 'poison' is not one of mislabel, clean");
  expect_has(msg, "paradigm: 'kip' is not one of baseline, coreset, dfkd, diffusion, distill, dpsgd");
  expect_has(msg, "colour: unknown key");
  expect_has(msg, "12 problems");
}

TEST(Config, WrongTypesAndRangesInNestedSections) {
  expect_has(problems(edit(R"("lr": 0.05})", R"("lr": 0.05, "momentum": "0.9"})")),
             "recipe.optimizer.momentum: expected a number, got string \"0.9\"");
  expect_has(problems(edit(R"("lr": 0.05})", R"("lr": 0.05, "momentum": 1.5})")),
             "recipe.optimizer.momentum: 1.5 must be in [0, 1]");
  expect_has(problems(edit(R"("lr": 0.05})", R"("lr": 0.05, "nesterov": true})")),
             "recipe.optimizer.nesterov: Nesterov momentum needs momentum > 0");
  expect_has(problems(edit(R"("lr": 0.05})", R"("lr": 0.05, "beta1": 0.9})")),
             "recipe.optimizer.beta1: not used by sgd");
  expect_has(problems(edit(R"("lr": 0.05})", R"("lr": -1})")), "recipe.optimizer.lr: -1 must be >= 0");
  expect_has(problems(edit(R"("width": 8)", R"("width": 0)")), "model.width: 0 must be in [1, 4096]");
  expect_has(problems(edit(R"("name": "resnet18")", R"("name": "resnet19")")),
             "model.name: 'resnet19' is not one of resnet18, resnet18_gn, wrn16_4, convnet3");
  expect_has(problems(edit(R"("train": 300)", R"("train": 300, "path": "x")")),
             "dataset.path: not used by shapes10");
  expect_has(problems(edit(R"("num_audit": 20)", R"("num_audit": 300)")),
             "audit.num_audit: 300 must be below the training set size");
  expect_has(problems(edit(R"("batch_size": 32)", R"("batch_size": 32, "augmentation": {"pad_mode": "mirror"})")),
             "recipe.augmentation.pad_mode: 'mirror' is not one of zero, reflect");
  expect_has(problems(edit(R"("batch_size": 32)", R"("batch_size": 32, "schedule": {"kind": "linear", "warmup_epochs": 3})")),
             "recipe.schedule.warmup_epochs: must be shorter than the run");
  expect_has(problems(edit(R"("model": {"name": "resnet18", "width": 8})", R"("model": [1])")),
             "model: expected an object, got array");
  expect_has(problems(edit(R"("model": {"name": "resnet18", "width": 8},)", "")), "model: missing (required)");
  expect_has(problems("[1, 2]"), "(top level): expected an object");
  EXPECT_EQ(problems(kMinimal), "");
}

TEST(Config, SyntaxErrorsAndDuplicateKeysGiveAPosition) {
  expect_has(problems("{\n  \"seed\": 1,\n  \"model\": {\"name\": \"resnet18\",}\n}"), "line 3");
  std::string dup = edit(R"("width": 8)", R"("width": 8, "width": 16)");
  expect_has(problems(dup), "model.width: duplicate key");
  // Comments are allowed.
  EXPECT_EQ(problems(std::string("// a comment\n") + kMinimal), "");
  EXPECT_THROW(load_config("/nonexistent/config.json"), Error);
}

TEST(Config, DifferencesNameEveryChangedLeaf) {
  RunConfig a = parse_config_text(kMinimal);
  RunConfig b = parse_config_text(edit(R"("epochs": 3)", R"("epochs": 4)"));
  auto d = json_differences(a.identity(), b.identity());
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0], "recipe.epochs: 3 -> 4");
  nlohmann::json x = {{"a", 1}, {"b", {{"c", "x"}}}}, y = {{"b", {{"c", "y"}}}, {"d", true}};
  EXPECT_EQ(json_differences(x, y),
            (std::vector<std::string>{"a: 1 -> (absent)", "b.c: \"x\" -> \"y\"", "d: (absent) -> true"}));
  EXPECT_TRUE(json_differences(a.resolved, a.resolved).empty());
}

TEST(Config, ShadowSeedsDiffer) {
  EXPECT_NE(shadow_seed(0, 0), shadow_seed(0, 1));
  EXPECT_NE(shadow_seed(0, 1), shadow_seed(1, 0));
  EXPECT_EQ(shadow_seed(5, 3), shadow_seed(5, 3));
}

TEST(Config, FieldsReadTypedValues) {
  cfg::Errors errors;
  nlohmann::json j = {{"n", 5}, {"x", 2}, {"s", "a"}, {"l", {1, 2, 3}}, {"big", 18446744073709551615ull}};
  cfg::Fields f(j, "sec", errors);
  EXPECT_EQ(f.integer("n", 0, 0, 10), 5);
  EXPECT_DOUBLE_EQ(f.number("x", 0), 2.0);  // integers are numbers
  EXPECT_EQ(f.string("s", "", {"a", "b"}), "a");
  EXPECT_EQ(f.integers("l", {}), (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(f.integer("missing", 7), 7);
  EXPECT_EQ(f.integer("big", 1), 1);
  f.finish();
  ASSERT_EQ(errors.list().size(), 1u);
  EXPECT_EQ(errors.list()[0], "sec.big: integer 18446744073709551615 is too large");
  EXPECT_THROW(errors.throw_if_any("file"), Error);
}

TEST(Config, DatasetSubsetsAreSeededSubsetsOfTheSplits) {
  // A 2-class image folder: 10 training and 3 test images per class, each image's pixels = its number.
  std::string root = std::string(SP_BINARY_DIR) + "/test_tmp/config_subset_" + std::to_string(::getpid());
  std::filesystem::remove_all(root);
  for (const char* split : {"train", "test"})
    for (const char* cls : {"cat", "dog"}) {
      std::filesystem::create_directories(root + "/" + split + "/" + cls);
      for (int i = 0; i < (std::string(split) == "train" ? 10 : 3); ++i)
        write_png_rgb(root + "/" + split + "/" + cls + "/" + std::to_string(i) + ".png", 2, 2,
                            std::vector<uint8_t>(12, uint8_t(i + (std::string(cls) == "dog" ? 100 : 0))));
    }
  std::string text = R"({"dataset": {"name": "folder", "path": ")" + root + R"(", "train_subset": 7, "test_subset": 4},
    "model": {"name": "resnet18", "width": 8}, "audit": {"num_audit": 3}, "seed": 5,
    "recipe": {"epochs": 1, "batch_size": 4, "optimizer": {"name": "sgd", "lr": 0.1}}})";
  RunConfig c = parse_config_text(text);
  EXPECT_EQ(c.resolved["dataset"]["train_subset"], 7);
  data::DatasetSplits full = data::load_dataset(c.dataset), sub = load_run_dataset(c);
  ASSERT_EQ(sub.train.size(), 7);
  ASSERT_EQ(sub.test.size(), 4);
  EXPECT_EQ(sub.train.classes, full.train.classes);
  // Every kept image is one of the originals, in the original order, with its label.
  int64_t at = 0;
  for (int64_t i = 0; i < sub.train.size(); ++i) {
    while (at < full.train.size() && full.train.image(at)[0] != sub.train.image(i)[0]) ++at;
    ASSERT_LT(at, full.train.size()) << "image " << i << " is not an original in order";
    EXPECT_EQ(sub.train.label(i), full.train.label(at));
  }
  EXPECT_EQ(data::fingerprint(load_run_dataset(c).train), data::fingerprint(sub.train));  // seeded
  std::string bigger = text;
  bigger.replace(bigger.find("\"train_subset\": 7"), 17, "\"train_subset\": 70");
  try {
    load_run_dataset(parse_config_text(bigger));
    ADD_FAILURE() << "a subset larger than the split was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("dataset.train_subset = 70"), std::string::npos) << e.what();
  }
  expect_has(problems(edit(R"("train": 300)", R"("train": 300, "train_subset": 5)")), "dataset.train_subset: unknown key");
  std::string audit = text;
  audit.replace(audit.find("\"num_audit\": 3"), 14, "\"num_audit\": 7");
  expect_has(problems(audit), "audit.num_audit: 7 must be below the training set size (7)");
  std::filesystem::remove_all(root);
}

TEST(Config, DeviceExecutionKeys) {
  RunConfig c = parse_config_text(edit(R"("num_audit": 20})", R"("num_audit": 20},
    "device": {"cuda_graphs": "auto", "graph_warmup_steps": 5, "progress_sync_s": 4.5})"));
  EXPECT_EQ(c.execution.cuda_graphs, CudaGraphMode::automatic);
  EXPECT_EQ(c.execution.graph_warmup_steps, 5);
  EXPECT_EQ(c.execution.progress_sync_s, 4.5);
  EXPECT_EQ(c.resolved["device"]["cuda_graphs"], "auto");
  EXPECT_FALSE(c.identity().contains("device")) << "how to run, not what";
  RunConfig again = parse_config(c.resolved);
  EXPECT_EQ(again.resolved, c.resolved);
  expect_has(problems(edit(R"("num_audit": 20})", R"("num_audit": 20}, "device": {"cuda_graphs": "yes"})")),
             "device.cuda_graphs: 'yes' is not one of auto, on, off");
  expect_has(problems(edit(R"("num_audit": 20})", R"("num_audit": 20}, "device": {"cuda_graphs": true})")),
             "device.cuda_graphs: expected a string");
  expect_has(problems(edit(R"("num_audit": 20})", R"("num_audit": 20}, "device": {"progress_sync_s": -1})")),
             "device.progress_sync_s: -1 must be");
  expect_has(problems(edit(R"("num_audit": 20})", R"("num_audit": 20}, "device": {"graph_warmup_steps": -2})")),
             "device.graph_warmup_steps: -2 must be in [0, 1000]");
}
