// End to end: build/bin/sp_audit on tiny shapes10 experiments. The pipeline in CPU worker processes and in
// process giving the same shadow outputs; every report file existing and holding the measured numbers
// (summary.json, summary.csv, report.md, report.html, ROC plot, canary grid) and the query views the
// recipe's augmentation chose (recorded in config.json, held by the logits, named by the report); --json,
// --status and --compare; a SIGKILL in the middle of a shadow followed by a rerun that finishes with the same bytes as an
// uninterrupted run; a failing shadow reported while the others finish (exit 2); and the bad inputs of
// issue 6 (a configuration with several errors listed at once before any work, a directory holding another
// configuration refused with the difference, a missing summary for --compare).
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "data/npy.h"
#include "paradigms/audit/worker_pool.h"
#include "plot/write_figure.h"
#include "tests/kill_test_util.h"
#include "tests/lira_test_util.h"
#include "tests/test_util.h"

using sp::test::TempDir;
namespace fs = std::filesystem;


namespace {

const std::string kAudit = std::string(SP_BINARY_DIR) + "/bin/sp_audit";
const std::string kTrain = std::string(SP_BINARY_DIR) + "/bin/sp_train";

#define REQUIRE_BINARIES()                                                                         \
  do {                                                                                             \
    if (!fs::exists(kAudit) || !fs::exists(kTrain)) GTEST_SKIP() << "sp_audit/sp_train not built"; \
  } while (0)

// Six shadows: the fewest with which every attack has two IN and two OUT models in each leave-one-out fold.
std::string tiny_config(int epochs = 1, uint64_t seed = 5) {
  nlohmann::json j = {
      {"seed", seed},
      {"num_shadows", 6},
      {"dataset", {{"name", "shapes10"}, {"seed", 2}, {"train", 96}, {"test", 40}}},
      {"model", {{"name", "resnet18"}, {"width", 2}}},
      {"recipe",
       {{"epochs", epochs},
        {"batch_size", 32},
        {"optimizer", {{"name", "adam"}, {"lr", 0.003}}},
        {"augmentation", {{"crop_pad", 0}, {"flip", true}}}}},
      {"audit", {{"num_audit", 12}}},
      {"device", {{"eval_batch", 216}}}};
  return j.dump(2);
}

std::string write_config(const TempDir& t, const std::string& name, const std::string& text) {
  sp::test::write_text(t / name, text);
  return t / name;
}

sp::test::CommandResult sp_audit(const std::string& args) {
  return sp::test::run_command(kAudit + " " + args + " --bootstrap 20");
}

nlohmann::json read_json(const std::string& path) { return nlohmann::json::parse(sp::test::read_text(path)); }

void expect_contains(const std::string& text, const std::string& needle) {
  EXPECT_NE(text.find(needle), std::string::npos) << "missing '" << needle << "' in:\n" << text;
}

std::string pct(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.2f%%", 100 * v);
  return b;
}

}  // namespace

TEST(SpAudit, WorkersAndInProcessAgreeAndEveryReportHoldsTheNumbers) {
  REQUIRE_BINARIES();
  TempDir t;
  const std::string cfg = write_config(t, "tiny.json", tiny_config()), a = t / "a", b = t / "b";
  auto r = sp_audit(cfg + " --out " + a + " --workers 2 --log-every 1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  expect_contains(r.output, "in 2 worker processes");
  expect_contains(r.output, "online_global_variance");
  r = sp_audit(cfg + " --out " + b + " --workers 0 --device cpu");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (int k = 0; k < 6; ++k)
    for (const char* f : {"logits.npy", "scores.npy", "model.safetensors"}) {
      std::string rel = "/shadow/" + std::to_string(k) + "/" + f;
      EXPECT_EQ(sp::test::read_text(a + rel), sp::test::read_text(b + rel)) << rel;
    }

  // The recipe flips without cropping: the clean view and its flip, recorded and reported.
  EXPECT_EQ(read_json(a + "/config.json")["audit"]["query_views"], "flips");
  EXPECT_EQ(sp::npy::Reader(a + "/shadow/0/logits.npy").shape(), (std::vector<int64_t>{12, 2, 10}));
  nlohmann::json s = read_json(a + "/summary.json");
  EXPECT_EQ(s["paradigm"], "baseline");
  EXPECT_EQ(s["lira"]["n_queries"], 2);
  EXPECT_EQ(s["config"]["audit"]["query_views"], "flips");
  EXPECT_EQ(s["shadows"]["done"].size(), 6u);
  EXPECT_TRUE(s["shadows"]["failed"].empty());
  EXPECT_EQ(s["utility"]["test_accuracy"]["per_shadow"].size(), 6u);
  EXPECT_GT(s["cost"]["total_seconds_per_model"]["mean"].get<double>(), 0.0);
  EXPECT_GT(s["cost"]["seconds_per_model"]["train"].get<double>(), 0.0);
  EXPECT_EQ(s["cost"]["device_kind"], "cpu");
  for (const char* at : {"online", "online_global_variance", "offline", "global_threshold"}) {
    SCOPED_TRACE(at);
    ASSERT_TRUE(s["privacy"].contains(at));
    EXPECT_EQ(s["privacy"][at]["n_members"].get<int>() + s["privacy"][at]["n_nonmembers"].get<int>(), 6 * 12);
    EXPECT_TRUE(s["privacy"][at]["auc"].is_number());
  }
  // The report files show the measured numbers.
  std::string md = sp::test::read_text(a + "/report.md"), html = sp::test::read_text(a + "/report.html");
  std::string acc = pct(s["utility"]["test_accuracy"]["mean"].get<double>());
  std::string tpr = pct(s["privacy"]["online"]["tpr_at_0.1%_fpr"].get<double>());
  for (const std::string* doc : {&md, &html}) {
    expect_contains(*doc, acc);
    expect_contains(*doc, tpr);
    if (sp::plot::plots_available()) expect_contains(*doc, doc == &md ? "lira/roc.png" : "lira/roc.svg");
    expect_contains(*doc, "images/canaries.png");
    expect_contains(*doc, "online_global_variance");
    expect_contains(*doc, "2 query views each (audit.query_views = flips: the clean image and its horizontal flip)");
  }
  expect_contains(html, "<table>");
  EXPECT_EQ(fs::exists(a + "/lira/roc.png"), sp::plot::plots_available());
  EXPECT_EQ(fs::exists(a + "/lira/roc.svg"), sp::plot::plots_available());
  EXPECT_TRUE(fs::exists(a + "/images/canaries.png"));
  std::string csv = sp::test::read_text(a + "/summary.csv");
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 5) << csv;  // header + one row per attack
  expect_contains(csv, "tpr_at_0.1pct_fpr");

  // Six models: the report warns about the leave-one-out bias, which --equalize-folds removes.
  EXPECT_TRUE(s.contains("attack_caveat"));
  expect_contains(md, "--equalize-folds");
  auto eq = sp_audit(cfg + " --out " + b + " --no-train --equalize-folds");
  ASSERT_EQ(eq.exit_code, 0) << eq.output;
  EXPECT_FALSE(read_json(b + "/summary.json").contains("attack_caveat"));
  EXPECT_TRUE(read_json(b + "/lira/results.json")["settings"]["equalize_folds"].get<bool>());

  // --json: the summary alone on stdout.
  auto j = sp::test::run_command("(" + kAudit + " " + cfg + " --out " + a + " --json --bootstrap 20 2>/dev/null)");
  ASSERT_EQ(j.exit_code, 0) << j.output;
  nlohmann::json js = nlohmann::json::parse(j.output);
  EXPECT_EQ(js["utility"], s["utility"]);
  // --status: every shadow done, and the results so far.
  auto st = sp::test::run_command(kAudit + " --status " + a);
  ASSERT_EQ(st.exit_code, 0) << st.output;
  expect_contains(st.output, "done     0-5");
  expect_contains(st.output, "global_threshold");
  // --compare: both experiments in one report with the trade-off plot.
  auto c = sp::test::run_command(kAudit + " --compare " + a + " " + b + " --out " + (t / "cmp"));
  ASSERT_EQ(c.exit_code, 0) << c.output;
  for (const char* f : {"report.md", "report.html", "summary.csv"}) EXPECT_TRUE(fs::exists(t / "cmp/" + std::string(f))) << f;
  for (const char* f : {"tradeoff.png", "tradeoff.svg"})
    EXPECT_EQ(fs::exists(t / "cmp/" + std::string(f)), sp::plot::plots_available()) << f;
  if (sp::plot::plots_available()) expect_contains(sp::test::read_text(t / "cmp/report.html"), "<img src=\"tradeoff.svg\"");
  std::string cmp = sp::test::read_text(t / "cmp/summary.csv");
  EXPECT_EQ(std::count(cmp.begin(), cmp.end(), '\n'), 9) << cmp;
}

// The README's demo configuration, shrunk to seconds (fewer, smaller images and models), runs end
// to end with the default worker choice (its schedule needs two epochs).
TEST(SpAudit, DemoConfigShrunkRunsEndToEnd) {
  REQUIRE_BINARIES();
  TempDir t;
  nlohmann::json demo = nlohmann::json::parse(sp::test::read_text(std::string(SP_SOURCE_DIR) + "/configs/demo.json"),
                                              nullptr, true, /*ignore_comments=*/true);
  demo["num_shadows"] = 6;
  demo["dataset"]["train"] = 96;
  demo["dataset"]["test"] = 40;
  demo["model"]["width"] = 2;
  demo["recipe"]["epochs"] = 2;  // the one warm-up epoch must be shorter than the run
  demo["audit"]["num_audit"] = 12;
  auto r = sp_audit(write_config(t, "demo.json", demo.dump()) + " --out " + (t / "demo"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  expect_contains(r.output, "TPR@0.1%");
  nlohmann::json s = read_json(t / "demo/summary.json");
  EXPECT_EQ(s["shadows"]["done"].size(), 6u);
  EXPECT_EQ(s["privacy"].size(), 4u);
  // The demo trains without augmentation: queried on the clean image alone.
  EXPECT_EQ(read_json(t / "demo/config.json")["audit"]["query_views"], "clean");
  EXPECT_EQ(sp::npy::Reader(t / "demo/shadow/5/logits.npy").shape(), (std::vector<int64_t>{12, 1, 10}));
  EXPECT_EQ(s["lira"]["n_queries"], 1);
  expect_contains(r.output, "query views clean (1 per image)");
}

TEST(SpAudit, KilledMidShadowResumesToTheSameBytes) {
  REQUIRE_BINARIES();
  TempDir t;
  const std::string cfg = write_config(t, "tiny.json", tiny_config(3)), a = t / "a", b = t / "b";
  ASSERT_EQ(sp_audit(cfg + " --out " + a + " --workers 0 --device cpu").exit_code, 0);

  // Killed once shadow 1 has an epoch checkpoint: shadow 0 is finished, shadow 1 is in the middle.
  ASSERT_EQ(sp::test::kill_when_file_appears({kAudit, cfg, "--out", b, "--workers", "0", "--device", "cpu",
                                              "--checkpoint-every", "0"},
                                             b + "/shadow/1/checkpoint.safetensors", 300),
            "");
  EXPECT_TRUE(fs::exists(b + "/shadow/0/metrics.json"));
  EXPECT_FALSE(fs::exists(b + "/shadow/1/metrics.json"));
  auto st = sp::test::run_command(kAudit + " --status " + b);
  ASSERT_EQ(st.exit_code, 0) << st.output;
  expect_contains(st.output, "missing  1-5");
  expect_contains(st.output, "has a checkpoint");

  auto r = sp_audit(cfg + " --out " + b + " --workers 0 --device cpu");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  expect_contains(r.output, "training 5 shadow models");  // shadow 0 was finished
  expect_contains(r.output, "resuming from its checkpoint");
  for (int k = 0; k < 6; ++k)
    for (const char* f : {"logits.npy", "scores.npy", "model.safetensors"}) {
      std::string rel = "/shadow/" + std::to_string(k) + "/" + f;
      EXPECT_EQ(sp::test::read_text(a + rel), sp::test::read_text(b + rel)) << rel;
    }
  EXPECT_EQ(read_json(a + "/lira/results.json")["attacks"], read_json(b + "/lira/results.json")["attacks"]);
}

TEST(SpAudit, AFailedShadowIsReportedAndTheOthersFinish) {
  REQUIRE_BINARIES();
  TempDir t;
  const std::string cfg = write_config(t, "tiny.json", tiny_config()), dir = t / "exp";
  // Only shadow 0 requested: it finishes, so the run succeeds although the others are missing.
  ASSERT_EQ(sp_audit(cfg + " --out " + dir + " --shadows 0-0 --workers 0 --device cpu").exit_code, 0);
  // A directory where shadow 2's model file must go: its atomic rename fails.
  fs::create_directories(dir + "/shadow/2/model.safetensors/blocker");
  for (const char* workers : {"0", "2"}) {
    SCOPED_TRACE(workers);
    auto r = sp_audit(cfg + " --out " + dir + " --workers " + workers + " --device cpu");
    EXPECT_EQ(r.exit_code, 2) << r.output;
    expect_contains(r.output, "FAILED shadow models: 2");
    nlohmann::json s = read_json(dir + "/summary.json");
    EXPECT_EQ(s["shadows"]["done"], nlohmann::json({0, 1, 3, 4, 5}));
    EXPECT_EQ(s["shadows"]["failed"], nlohmann::json({2}));
    EXPECT_TRUE(s["shadows"]["errors"]["2"].get<std::string>().find("model.safetensors") != std::string::npos)
        << s["shadows"]["errors"];
    // Five models attacked: the attacks that fit per-sample Gaussians may lack models, the rest ran.
    EXPECT_TRUE(s["privacy"].contains("global_threshold"));
    expect_contains(sp::test::read_text(dir + "/report.md"), "Shadow 2 failed");
  }
  fs::remove_all(dir + "/shadow/2/model.safetensors");
  auto r = sp_audit(cfg + " --out " + dir + " --workers 0 --device cpu");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_FALSE(fs::exists(dir + "/shadow/2/failed.json"));
}

TEST(SpAudit, BadInputIsRefusedBeforeAnyWork) {
  REQUIRE_BINARIES();
  TempDir t;
  // Several problems in one configuration: all listed, nothing created.
  std::string bad = tiny_config();
  bad.replace(bad.find("\"epochs\": 1"), 11, "\"epochs\": -1");
  bad.replace(bad.find("\"num_audit\""), 11, "\"num_audits\"");
  auto r = sp_audit(write_config(t, "bad.json", bad) + " --out " + (t / "x"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  expect_contains(r.output, "recipe.epochs");
  expect_contains(r.output, "audit.num_audits");
  EXPECT_FALSE(fs::exists(t / "x"));

  // A directory made with another configuration: refused, with the difference.
  const std::string dir = t / "exp";
  ASSERT_EQ(sp_audit(write_config(t, "a.json", tiny_config(1, 5)) + " --out " + dir + " --shadows 0-0 --workers 0").exit_code, 0);
  r = sp_audit(write_config(t, "b.json", tiny_config(1, 6)) + " --out " + dir);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  expect_contains(r.output, "seed: 5 -> 6");
  EXPECT_FALSE(fs::exists(dir + "/shadow/1/metrics.json"));

  r = sp::test::run_command(kAudit + " --status " + (t / "nothing"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  expect_contains(r.output, "no config.json");
  r = sp::test::run_command(kAudit + " --compare " + dir + " " + (t / "nothing") + " --out " + (t / "cmp"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  expect_contains(r.output, "summary.json");
  r = sp_audit(write_config(t, "c.json", tiny_config()) + " --out " + (t / "y") + " --shadows 3-9");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  expect_contains(r.output, "num_shadows = 6");

  // Models per GPU without GPUs to share, a GPU listed twice, no models per GPU: refused before any work.
  const std::string d = write_config(t, "d.json", tiny_config()) + " --out " + (t / "z");
  for (auto [args, why] : {std::pair{" --models-per-gpu 2", "--models-per-gpu needs --gpus"},
                           std::pair{" --gpus 0,0", "GPU 0 twice"}, std::pair{" --gpus 0 --models-per-gpu 0", "models-per-gpu"}}) {
    r = sp_audit(d + args);
    EXPECT_NE(r.exit_code, 0) << args << "\n" << r.output;
    expect_contains(r.output, why);
    EXPECT_FALSE(fs::exists(t / "z")) << args;
  }
}

// The slots of a worker pool: models_per_gpu processes on each GPU, each seeing only its GPU, then the CPU
// workers, with the host's cores shared among all of them.
TEST(SpAudit, WorkerSlotsShareGpusAndCores) {
  std::vector<sp::audit::WorkerSlot> s = sp::audit::worker_slots({1, 3}, 3, 0, 16);
  ASSERT_EQ(s.size(), 6u);
  std::set<std::string> names;
  for (size_t i = 0; i < s.size(); ++i) {
    const std::string gpu = i < 3 ? "1" : "3";
    names.insert(s[i].name);
    EXPECT_EQ(s[i].env, (std::vector<std::string>{"CUDA_VISIBLE_DEVICES=" + gpu, "SP_CPU_THREADS=2"})) << i;
    EXPECT_EQ(s[i].args, (std::vector<std::string>{"--device", "cuda"})) << i;
  }
  EXPECT_EQ(names.size(), 6u) << "every slot has its own name";
  EXPECT_EQ(s[4].name, "gpu 3 (2 of 3)");
  // One model per GPU keeps the plain names; CPU workers get BLAS threads too.
  s = sp::audit::worker_slots({0}, 1, 0, 8);
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].name, "gpu 0");
  EXPECT_EQ(s[0].env[1], "SP_CPU_THREADS=8");
  s = sp::audit::worker_slots({}, 1, 3, 2);
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s[2].name, "cpu worker 2");
  EXPECT_EQ(s[2].env, (std::vector<std::string>{"OPENBLAS_NUM_THREADS=1", "SP_CPU_THREADS=1"}));
  EXPECT_EQ(s[2].args, (std::vector<std::string>{"--device", "cpu"}));
  sp::test::expect_error_mentioning([] { sp::audit::worker_slots({0}, 0, 0, 4); }, "at least 1");
  sp::test::expect_error_mentioning([] { sp::audit::worker_slots({2, 5, 2}, 1, 0, 4); }, "GPU 2 twice");
}
