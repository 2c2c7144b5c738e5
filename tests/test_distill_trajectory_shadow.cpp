// Trajectory matching (MTT, DATM) in the distillation paradigm end to end with build/bin/sp_train, sp_lira and
// sp_audit on tiny shapes10 experiments: every shadow fits ZCA on its own private set, trains its experts,
// initialises from images an expert classifies as labelled (DATM), learns the images, the step size and the
// soft labels, trains the audited model with them and records its IN canaries' predictions; a run killed
// while training experts or distilling resumes to the same bytes; experts of another shadow, without their
// ZCA fit, with another ZCA fit or damaged stop the run before any work; sp_audit's report shows the
// trajectory-matching paragraph, the canary prediction table and the initial-vs-distilled grid.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "data/npy.h"
#include "nn/safetensors.h"
#include "tests/kill_test_util.h"
#include "tests/lira_test_util.h"
#include "tests/tool_test_util.h"

using namespace sp;
using sp::test::TempDir;
namespace fs = std::filesystem;

namespace {

const std::string kTrain = sp::test::tool_path("sp_train");
const std::string kLira = sp::test::tool_path("sp_lira");
const std::string kAudit = sp::test::tool_path("sp_audit");
using sp::test::expect_contains;
using sp::test::read_json;
using sp::test::write_config;

nlohmann::json tiny_config(const nlohmann::json& distill, int shadows = 4) {
  return {{"paradigm", "distill"},
          {"seed", 5},
          {"num_shadows", shadows},
          {"dataset", {{"name", "shapes10"}, {"seed", 2}, {"train", 100}, {"test", 20}}},
          {"model", {{"name", "convnet3"}, {"width", 4}}},
          {"recipe",
           {{"epochs", 3},
            {"batch_size", 8},
            {"optimizer", {{"name", "sgd"}, {"lr", 0.01}, {"momentum", 0.9}, {"weight_decay", 5e-4}}},
            {"schedule", {{"kind", "multistep"}, {"milestones", {2}}, {"gamma", 0.1}}},
            {"augmentation", {{"crop_pad", 0}, {"flip", false}}}}},
          {"distill", distill},
          {"audit", {{"num_audit", 12}}},
          {"device", {{"eval_batch", 216}}}};
}

// DATM with every part on: GSAM experts, ZCA, samples_predicted_correctly, soft labels, the gate.
nlohmann::json datm_section() {
  return {{"method", "datm"}, {"ipc", 1}, {"iterations", 3}, {"syn_steps", 2}, {"expert_epochs", 1},
          {"max_start_epoch", 2}, {"sequential_generation", false}, {"lr_img", 10}, {"lr_y", 2}, {"batch_syn", 6},
          {"threshold", 10.0}, {"loss_every", 1}, {"net", {{"name", "convnet3"}, {"width", 4}}},
          {"experts", {{"count", 2}, {"epochs", 12}, {"batch", 10}, {"lr", 0.05}, {"momentum", 0.9}}}};
}

}  // namespace

TEST(DistillTrajectoryShadow, SpTrainDatmLearnsFromExpertsAndResumes) {
  if (!fs::exists(kTrain) || !fs::exists(kLira)) GTEST_SKIP() << "tools not built";
  TempDir t;
  const std::string cfg = write_config(t, "datm.json", tiny_config(datm_section())), dir = t / "exp";
  auto r = sp::test::run_command(kTrain + " " + cfg + " --out " + dir + " --device cpu");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  expect_contains(r.output, "shadow 2: fitted the ZCA whitening of its ");
  expect_contains(r.output, "2 expert trajectories of 12 epochs, 54.9 KiB each, 109.9 KiB for this shadow");
  expect_contains(r.output, "expert 2/2 trained in ");
  expect_contains(r.output, "shadow 3: distilled 10 images (datm, ipc 1, init samples_predicted_correctly)");
  expect_contains(r.output, "soft labels, ZCA-whitened inputs");
  std::vector<int64_t> audit = npy::Reader(dir + "/audit/indices.npy").read_integers();
  for (int k = 0; k < 4; ++k) {
    SCOPED_TRACE("shadow " + std::to_string(k));
    const std::string sd = dir + "/shadow/" + std::to_string(k);
    for (const char* f : {"zca.safetensors", "experts/expert_000.safetensors", "experts/expert_001.safetensors",
                          "canaries.json", "init_vs_synthetic.png", "synthetic.safetensors"})
      EXPECT_TRUE(fs::exists(sd + "/" + f)) << f;
    TensorFile syn = load_safetensors(sd + "/synthetic.safetensors");
    ASSERT_TRUE(syn.contains("soft_labels"));
    EXPECT_EQ(syn.at("soft_labels").shape(), (Shape{10, 10}));
    EXPECT_NE(syn.metadata.at("input_space").find("zca"), std::string::npos);
    nlohmann::json rec = read_json(sd + "/distill.json");
    EXPECT_GT(rec["syn_lr"].get<double>(), 0.0);
    EXPECT_EQ(rec["zca"], load_safetensors(sd + "/zca.safetensors").metadata.at("digest"));
    nlohmann::json m = read_json(sd + "/metrics.json");
    EXPECT_EQ(m["train_size"], 10);
    EXPECT_EQ(m["distill"]["method"], "datm");
    EXPECT_DOUBLE_EQ(m["distill"]["syn_lr"].get<double>(), rec["syn_lr"].get<double>());
    const nlohmann::json& p = m["distill"]["canary_predictions"];
    std::vector<int64_t> keep = npy::Reader(sd + "/keep.npy").read_integers();
    int64_t in = 0;
    for (int64_t v : keep) in += v != 0;
    EXPECT_EQ(p["flipped"].get<int64_t>() + p["true"].get<int64_t>() + p["other"].get<int64_t>(), in);
    nlohmann::json cv = read_json(sd + "/canaries.json");
    ASSERT_EQ(int64_t(cv["canaries"].size()), in);
    for (const auto& c : cv["canaries"]) {
      EXPECT_NE(c["true_label"], c["training_label"]) << "mislabeled canaries";
      EXPECT_EQ(c["logits"].size(), 10u);
      EXPECT_GE(c["nearest"]["row"].get<int64_t>(), 0);
    }
  }

  // Killed while training experts: the rerun keeps expert 0 and ends with the same bytes.
  const std::string dir2 = t / "killed", first = dir2 + "/shadow/1/experts/expert_000.safetensors";
  ASSERT_EQ(sp::test::kill_when_file_appears({kTrain, cfg, "--out", dir2, "--shadow", "1", "--device", "cpu"}, first, 120), "");
  ASSERT_FALSE(fs::exists(dir2 + "/shadow/1/synthetic.safetensors"));
  const auto stamp = fs::last_write_time(first);
  r = sp::test::run_command(kTrain + " " + cfg + " --out " + dir2 + " --device cpu --shadow 1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(fs::last_write_time(first), stamp) << "expert 0 was reused";
  EXPECT_EQ(r.output.find("expert 1/2 trained"), std::string::npos) << r.output;
  for (const char* f : {"synthetic.safetensors", "model.safetensors", "logits.npy", "canaries.json"})
    EXPECT_EQ(sp::test::read_text(dir2 + "/shadow/1/" + f), sp::test::read_text(dir + "/shadow/1/" + f)) << f;

  // Killed at a distillation checkpoint: the same bytes again.
  const std::string dir3 = t / "killed3", ck = dir3 + "/shadow/1/distill_checkpoint.safetensors";
  ASSERT_EQ(sp::test::kill_when_file_appears(
                {kTrain, cfg, "--out", dir3, "--shadow", "1", "--device", "cpu", "--checkpoint-every", "0"}, ck, 120),
            "");
  r = sp::test::run_command(kTrain + " " + cfg + " --out " + dir3 + " --device cpu --shadow 1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  expect_contains(r.output, "shadow 1: resuming its distillation after iteration ");
  for (const char* f : {"synthetic.safetensors", "model.safetensors", "logits.npy"})
    EXPECT_EQ(sp::test::read_text(dir3 + "/shadow/1/" + f), sp::test::read_text(dir + "/shadow/1/" + f)) << f;

  // A finished distillation is reused, with its step size and ZCA fit, when only the training is redone.
  for (const char* f : {"metrics.json", "model.safetensors", "logits.npy", "scores.npy"}) fs::remove(dir3 + "/shadow/1/" + f);
  r = sp::test::run_command(kTrain + " " + cfg + " --out " + dir3 + " --device cpu --shadow 1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  expect_contains(r.output, "shadow 1: reusing its distilled set");
  EXPECT_EQ(sp::test::read_text(dir3 + "/shadow/1/logits.npy"), sp::test::read_text(dir + "/shadow/1/logits.npy"));

  auto lira = sp::test::run_command(kLira + " " + dir + " --attacks global_threshold --no-plot --threads 1 --groups " +
                                    dir + "/distill_groups.npy");
  ASSERT_EQ(lira.exit_code, 0) << lira.output;
}

TEST(DistillTrajectoryShadow, ForeignOrDamagedExpertsStopBeforeAnyWork) {
  if (!fs::exists(kTrain)) GTEST_SKIP() << "tools not built";
  TempDir t;
  nlohmann::json sec = datm_section();
  sec["zca"] = true;
  const std::string cfg = write_config(t, "c.json", tiny_config(sec, 2)), dir = t / "exp";
  // Shadow 0's experts and ZCA fit, left by a run killed while distilling.
  const std::string ck = dir + "/shadow/0/distill_checkpoint.safetensors";
  ASSERT_EQ(sp::test::kill_when_file_appears(
                {kTrain, cfg, "--out", dir, "--shadow", "0", "--device", "cpu", "--checkpoint-every", "0"}, ck, 120),
            "");
  fs::create_directories(dir + "/shadow/1/experts");
  auto attempt = [&](const std::string& needle) {
    auto r = sp::test::run_command(kTrain + " " + cfg + " --out " + dir + " --device cpu");
    EXPECT_EQ(r.exit_code, 1) << r.output;
    expect_contains(r.output, needle);
    EXPECT_FALSE(fs::exists(dir + "/shadow/0/synthetic.safetensors")) << "shadow 0 did not go on";
    EXPECT_FALSE(fs::exists(dir + "/shadow/1/init.png"));
  };
  // Shadow 0's experts under shadow 1, without shadow 1's ZCA fit; then with shadow 0's fit.
  fs::copy_file(dir + "/shadow/0/experts/expert_000.safetensors", dir + "/shadow/1/experts/expert_000.safetensors");
  attempt("expert trajectories without the ZCA fit");
  fs::copy_file(dir + "/shadow/0/zca.safetensors", dir + "/shadow/1/zca.safetensors");
  attempt("zca.safetensors: fitted on another private set");
  fs::remove_all(dir + "/shadow/1/experts");
  fs::remove(dir + "/shadow/1/zca.safetensors");
  // A truncated expert file of shadow 0.
  const std::string e1 = dir + "/shadow/0/experts/expert_001.safetensors";
  fs::resize_file(e1, fs::file_size(e1) - 64);
  attempt("expert_001.safetensors");
}

TEST(DistillTrajectoryShadow, AuditReportShowsCanaryPredictions) {
  if (!fs::exists(kAudit)) GTEST_SKIP() << "tools not built";
  TempDir t;
  // MTT without ZCA (its IPC 50 setting), plain real init, the unrolled meta-gradient.
  nlohmann::json sec = {{"method", "mtt"}, {"ipc", 1}, {"iterations", 2}, {"syn_steps", 2}, {"expert_epochs", 1},
                        {"max_start_epoch", 2}, {"lr_img", 10}, {"zca", false}, {"meta_gradient", "unrolled"},
                        {"net", {{"name", "convnet3"}, {"width", 4}}}, {"experts", {{"count", 1}, {"epochs", 3}, {"batch", 16}}}};
  const std::string dir = t / "exp";
  auto r = sp::test::run_command(kAudit + " " + write_config(t, "c.json", tiny_config(sec, 6)) + " --out " + dir +
                                 " --device cpu --workers 1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_FALSE(fs::exists(dir + "/shadow/0/zca.safetensors"));
  const std::string md = sp::test::read_text(dir + "/report.md");
  expect_contains(md, "Method mtt, 1 images per class, init real");
  expect_contains(md, "Trajectory matching: expert training ");
  expect_contains(md, "flipped (training) label");
  expect_contains(md, "images/distill_init_vs_synthetic.png");
  nlohmann::json s = read_json(dir + "/summary.json");
  const nlohmann::json& p = s["distill"]["canary_predictions"];
  EXPECT_GT(p["flipped"].get<int64_t>() + p["true"].get<int64_t>() + p["other"].get<int64_t>(), 0);
  EXPECT_GT(s["distill"]["syn_lr"]["mean"].get<double>(), 0.0);
}
