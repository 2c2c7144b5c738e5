// End to end: build/bin/sp_train on a tiny paradigm-dpsgd experiment (shapes10, width-4 WRN-16-4). The
// shadow's outputs exist with the baseline's shapes, metrics.json records the privacy parameters (epsilon,
// delta, sigma, C, q, steps, K, accountant) and that the EMA was evaluated, a SIGKILL after an epoch
// checkpoint followed by a rerun gives the same bytes as an uninterrupted run, a batch-norm model is refused
// before any work, and sp_train --bench-dpsgd prints the DP / non-private step ratio.
#include <filesystem>
#include <nlohmann/json.hpp>

#include "data/npy.h"
#include "nn/safetensors.h"
#include "paradigms/dpsgd/rdp_accountant.h"
#include "tests/kill_test_util.h"
#include "tests/lira_test_util.h"
#include "tests/test_util.h"

using namespace sp;
using sp::test::TempDir;
namespace fs = std::filesystem;

namespace {

const std::string kTrain = std::string(SP_BINARY_DIR) + "/bin/sp_train";

nlohmann::json tiny_dp_config(int epochs, const std::string& model = "wrn16_4") {
  return {{"paradigm", "dpsgd"},
          {"seed", 5},
          {"num_shadows", 2},
          {"dataset", {{"name", "shapes10"}, {"seed", 2}, {"train", 72}, {"test", 30}}},
          {"model", {{"name", model}, {"width", 4}}},
          {"recipe", {{"epochs", epochs}, {"batch_size", 16}, {"optimizer", {{"name", "sgd"}, {"lr", 1.0}}}}},
          {"audit", {{"num_audit", 12}}},
          {"dpsgd",
           {{"noise_multiplier", 1.0}, {"clip_norm", 1.0}, {"delta", 1e-5}, {"augmult", 2}, {"physical_batch", 8},
            {"ema_decay", 0.999}}},
          {"device", {{"eval_batch", 216}}}};
}

std::string write_config(const TempDir& t, const std::string& name, const nlohmann::json& j) {
  std::string path = t / name;
  sp::test::write_text(path, j.dump(2));
  return path;
}

sp::test::CommandResult sp_train(const std::string& args) {
  return sp::test::run_command(kTrain + " " + args + " --device cpu");
}

void expect_contains(const std::string& text, const std::string& needle) {
  EXPECT_NE(text.find(needle), std::string::npos) << "expected '" << needle << "' in:\n" << text;
}

}  // namespace

TEST(SpTrainDpsgd, TrainsRecordsPrivacyAndResumesToTheSameBytes) {
  if (!fs::exists(kTrain)) GTEST_SKIP() << "sp_train not built";
  TempDir t;
  const std::string cfg = write_config(t, "dp.json", tiny_dp_config(2));
  const std::string a = t / "uninterrupted", b = t / "killed";
  auto r = sp_train(cfg + " --out " + a + " --shadow 0");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  expect_contains(r.output, "DP-SGD q");
  expect_contains(r.output, "shadow 0 epoch 2/2");

  const std::string sd = a + "/shadow/0";
  for (const char* f : {"model.safetensors", "logits.npy", "scores.npy", "metrics.json"})
    EXPECT_TRUE(fs::exists(sd + "/" + f)) << f;
  EXPECT_FALSE(fs::exists(sd + "/checkpoint.safetensors"));
  EXPECT_EQ(npy::Reader(sd + "/logits.npy").shape(), (std::vector<int64_t>{12, 18, 10}));
  nlohmann::json m = nlohmann::json::parse(sp::test::read_text(sd + "/metrics.json"));
  ASSERT_TRUE(m.contains("dpsgd")) << m.dump(2);
  const nlohmann::json& dp = m["dpsgd"];
  const int64_t n = m["train_size"].get<int64_t>();
  EXPECT_EQ(dp["train_size"], n);
  EXPECT_DOUBLE_EQ(dp["sample_rate"].get<double>(), 16.0 / double(n));
  EXPECT_EQ(dp["steps_per_epoch"], n / 16);
  EXPECT_EQ(dp["steps"], 2 * (n / 16));
  EXPECT_EQ(m["steps"], dp["steps"]);
  EXPECT_EQ(dp["noise_multiplier"], 1.0);
  EXPECT_EQ(dp["clip_norm"], 1.0);
  EXPECT_EQ(dp["delta"], 1e-5);
  EXPECT_EQ(dp["augmult"], 2);
  EXPECT_EQ(dp["accountant"], "rdp");
  EXPECT_EQ(dp["evaluated_parameters"], "ema");
  EXPECT_DOUBLE_EQ(dp["epsilon"].get<double>(),
                   dpsgd::rdp_epsilon({{16.0 / double(n), 1.0, 2 * (n / 16)}}, 1e-5).epsilon);

  // SIGKILL after the first epoch checkpoint, then rerun: the same bytes as the uninterrupted run.
  const std::string ckpt = b + "/shadow/0/checkpoint.safetensors";
  ASSERT_EQ(sp::test::kill_when_file_appears(
                {kTrain, cfg, "--out", b, "--shadow", "0", "--device", "cpu", "--checkpoint-every", "0"}, ckpt, 120),
            "");
  ASSERT_TRUE(fs::exists(ckpt));
  EXPECT_TRUE(load_safetensors(ckpt).contains("dpsgd/ema"));
  std::string done = load_safetensors(ckpt).metadata.at("epochs_done");
  r = sp_train(cfg + " --out " + b + " --shadow 0");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  expect_contains(r.output, "resuming from its checkpoint after epoch " + done + "/2");
  for (const char* f : {"model.safetensors", "logits.npy", "scores.npy"})
    EXPECT_EQ(sp::test::read_text(b + "/shadow/0/" + f), sp::test::read_text(sd + "/" + f)) << f;
}

TEST(SpTrainDpsgd, BatchNormModelIsRefusedBeforeAnyWork) {
  if (!fs::exists(kTrain)) GTEST_SKIP() << "sp_train not built";
  TempDir t;
  const std::string dir = t / "exp";
  auto r = sp_train(write_config(t, "bn.json", tiny_dp_config(1, "resnet18")) + " --out " + dir);
  EXPECT_EQ(r.exit_code, 1);
  expect_contains(r.output, "model.name: resnet18 uses batch norm");
  EXPECT_FALSE(fs::exists(dir + "/shadow"));
}

TEST(SpTrainDpsgd, BenchPrintsTheRatio) {
  if (!fs::exists(kTrain)) GTEST_SKIP() << "sp_train not built";
  auto r = sp::test::run_command(kTrain + " --bench-dpsgd --device cpu --bench-width 8 --bench-batch 8 --bench-steps 1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  expect_contains(r.output, "wrn16_4 width 8");
  expect_contains(r.output, "non-private step");
  expect_contains(r.output, "DP-SGD step");
  expect_contains(r.output, "ratio DP / non-private");
}
