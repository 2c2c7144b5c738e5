// sp_train's precision, end to end on the CPU: --precision bf16 trains a shadow whose metrics.json and
// config.json say bf16 and whose query logits are bf16 values; a default (fp32 on the CPU) directory takes
// --tf32 off/on and --precision fp32/tf32 as the same experiment but refuses --precision bf16, naming
// device.precision; --bench prints the precision; a bad value, or --precision with --tf32, is a usage error.
#include <filesystem>
#include <nlohmann/json.hpp>

#include "data/npy.h"
#include "kernels/round_bf16_math.h"
#include "tests/lira_test_util.h"
#include "tests/test_util.h"

using namespace sp;
using sp::test::TempDir;
namespace fs = std::filesystem;

namespace {

const std::string kTrain = std::string(SP_BINARY_DIR) + "/bin/sp_train";

// Two shadows of ResNet-18 width 2 on 64 shapes10 images, one epoch.
std::string write_config(const TempDir& t) {
  nlohmann::json j = {
      {"seed", 3},
      {"num_shadows", 2},
      {"dataset", {{"name", "shapes10"}, {"seed", 1}, {"train", 64}, {"test", 20}}},
      {"model", {{"name", "resnet18"}, {"width", 2}}},
      {"recipe", {{"epochs", 1}, {"batch_size", 32}, {"optimizer", {{"name", "sgd"}, {"lr", 0.05}}}}},
      {"audit", {{"num_audit", 8}, {"population", 0}, {"query_views", "flips"}}}};
  const std::string path = t / "c.json";
  sp::test::write_text(path, j.dump(2));
  return path;
}

sp::test::CommandResult sp_train(const std::string& args) {
  return sp::test::run_command(kTrain + " " + args + " --device cpu");
}

nlohmann::json read_json(const std::string& path) { return nlohmann::json::parse(sp::test::read_text(path)); }

void expect_contains(const std::string& text, const std::string& needle) {
  EXPECT_NE(text.find(needle), std::string::npos) << "expected '" << needle << "' in:\n" << text;
}

}  // namespace

TEST(SpTrainPrecision, Bf16IsItsOwnExperimentWithBf16Logits) {
  if (!fs::exists(kTrain)) GTEST_SKIP() << "sp_train not built";
  TempDir t;
  const std::string cfg = write_config(t), fp32 = t / "fp32", bf16 = t / "bf16";

  auto r = sp_train(cfg + " --out " + fp32 + " --shadow 0");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  expect_contains(r.output, "precision fp32");
  nlohmann::json m = read_json(fp32 + "/shadow/0/metrics.json");
  EXPECT_EQ(m["precision"], "fp32");
  EXPECT_EQ(m["tf32"], false);
  // TF32 on or off and fp32 / tf32 are one experiment (the CPU computes both as fp32).
  for (const char* same : {"--tf32 on", "--tf32 off", "--precision tf32", "--precision auto"}) {
    r = sp_train(cfg + " --out " + fp32 + " --shadow 0 " + same);
    EXPECT_EQ(r.exit_code, 0) << same << "\n" << r.output;
    expect_contains(r.output, "0 trained, 1 already done");
  }
  // bf16 is not: refused, naming the key.
  r = sp_train(cfg + " --out " + fp32 + " --shadow 1 --precision bf16");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  expect_contains(r.output, "different configuration (1 difference");
  expect_contains(r.output, R"(device: (absent) -> {"precision":"bf16"})");
  EXPECT_FALSE(fs::exists(fp32 + "/shadow/1/metrics.json"));

  r = sp_train(cfg + " --out " + bf16 + " --shadow 0 --precision bf16");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  expect_contains(r.output, "precision bf16");
  EXPECT_EQ(read_json(bf16 + "/config.json")["device"]["precision"], "bf16");
  EXPECT_EQ(read_json(bf16 + "/shadow/0/metrics.json")["precision"], "bf16");
  std::vector<float> logits = npy::load(bf16 + "/shadow/0/logits.npy").to_vector<float>();
  ASSERT_EQ(logits.size(), size_t(8 * 2 * 10));
  for (float v : logits) ASSERT_EQ(prec::round_bf16(v), v) << "a query logit off the bf16 grid: " << v;
  EXPECT_NE(logits, npy::load(fp32 + "/shadow/0/logits.npy").to_vector<float>());
  // The directory now is a bf16 experiment: the default precision is refused there.
  r = sp_train(cfg + " --out " + bf16 + " --shadow 1");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  expect_contains(r.output, R"(device: {"precision":"bf16"} -> (absent))");
}

TEST(SpTrainPrecision, BenchPrintsItAndBadValuesAreUsageErrors) {
  if (!fs::exists(kTrain)) GTEST_SKIP() << "sp_train not built";
  TempDir t;
  const std::string cfg = write_config(t);
  auto r = sp_train(cfg + " --bench --bench-batch 8 --bench-steps 1 --bench-query-batch 18 --precision bf16");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  expect_contains(r.output, "precision bf16");
  r = sp_train(cfg + " --bench --bench-batch 8 --bench-steps 1 --bench-query-batch 18");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  expect_contains(r.output, "precision fp32");
  r = sp_train(cfg + " --bench --precision fp16");
  EXPECT_NE(r.exit_code, 0) << r.output;
  expect_contains(r.output, "--precision");
  r = sp_train(cfg + " --bench --precision bf16 --tf32 on");
  EXPECT_NE(r.exit_code, 0) << r.output;
  expect_contains(r.output, "--tf32");
}
