// sp_train on the GPU, end to end: a tiny shapes10 experiment trained with --device cuda (TF32 off) writes
// every output; the saved model, run through the CPU reference, reproduces the GPU's 18-view query logits and
// LiRA scores; --query-all agrees with the audit logits; a run killed after its first epoch checkpoint
// resumes and finishes (on a GPU the benchmarked cuDNN algorithms may differ between processes, so the
// result is compared to float rounding, not bytes); and --bench prints its table on the GPU. Each test
// skips without a GPU.

#include <filesystem>
#include <nlohmann/json.hpp>

#include "data/npy.h"
#include "data/sources.h"
#include "kernels/lira_stat.h"
#include "paradigms/engine/model_file.h"
#include "paradigms/engine/train_loop.h"
#include "tests/gpu/gpu_test_util.h"
#include "tests/kill_test_util.h"
#include "tests/lira_test_util.h"

using namespace sp;
using sp::test::TempDir;
namespace fs = std::filesystem;

namespace {

const std::string kTrain = std::string(SP_BINARY_DIR) + "/bin/sp_train";

std::string config(int64_t train, int epochs) {
  nlohmann::json j = {
      {"seed", 4},
      {"num_shadows", 2},
      {"dataset", {{"name", "shapes10"}, {"seed", 2}, {"train", train}, {"test", 200}}},
      {"model", {{"name", "resnet18"}, {"width", 8}}},
      {"recipe",
       {{"epochs", epochs},
        {"batch_size", 32},
        {"optimizer", {{"name", "sgd"}, {"lr", 0.05}, {"momentum", 0.9}, {"nesterov", true}, {"weight_decay", 5e-4}}},
        {"schedule", {{"kind", "warmup_cosine"}, {"warmup_epochs", 1}}}}},
      {"audit", {{"num_audit", 40}}},
      {"device", {{"eval_batch", 360}, {"tf32", false}}}};
  return j.dump();
}

float max_abs(const std::vector<float>& v) {
  float m = 0;
  for (float x : v) m = std::max(m, std::abs(x));
  return m;
}

}  // namespace

TEST(SpTrainGpu, OutputsMatchTheCpuReference) {
  SP_REQUIRE_GPU();
  ASSERT_TRUE(fs::exists(kTrain)) << kTrain;
  TempDir t;
  sp::test::write_text(t / "c.json", config(256, 2));
  std::string dir = t / "exp";
  auto r = sp::test::run_command(kTrain + " " + (t / "c.json") + " --out " + dir + " --device cuda --query-all");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  nlohmann::json m = nlohmann::json::parse(sp::test::read_text(dir + "/shadow/0/metrics.json"));
  EXPECT_EQ(m["device"], "cuda:0");
  EXPECT_EQ(m["tf32"], false);
  EXPECT_GT(m["images_per_s"].get<double>(), 0.0);

  Tensor logits = npy::load(dir + "/shadow/0/logits.npy"), scores = npy::load(dir + "/shadow/0/scores.npy");
  ASSERT_EQ(logits.shape(), Shape({40, 18, 10}));
  ASSERT_EQ(scores.shape(), Shape({40, 18}));
  Tensor labels = npy::load(dir + "/audit/labels.npy"), idx = npy::load(dir + "/audit/indices.npy");
  // GPU LiRA statistic vs the CPU twin on the same logits.
  std::vector<double> phi = lira_stat(Stream::cpu(), logits, labels, lira::Statistic::logit).to_vector<double>();
  std::vector<double> sv = scores.to_vector<double>();
  for (size_t i = 0; i < sv.size(); ++i) ASSERT_NEAR(sv[i], phi[i], 1e-9 * (1 + std::abs(phi[i]))) << i;

  // The saved model on the CPU gives the same query logits (f32, no TF32: conv rounding only).
  ModelConfig mc;
  mc.width = 8;
  auto model = make_model(mc);
  TrainRecipe rec;
  Trainer tr(*model, rec, Stream::cpu(), 0);
  load_model(dir + "/shadow/0/model.safetensors", *model, tr.theta(), tr.buffers());
  DeviceData d = DeviceData::upload(data::load_dataset("shapes10:seed=2,train=256,test=200").train, Stream::cpu());
  std::vector<float> cpu = tr.predict(d, idx, true).to_vector<float>(), gpu = logits.to_vector<float>();
  float scale = max_abs(cpu);
  for (size_t i = 0; i < cpu.size(); ++i) ASSERT_NEAR(gpu[i], cpu[i], 1e-3f * (1 + scale)) << i;

  // logits_all.npy holds the same rows for the audit samples.
  std::vector<float> all = npy::Reader(dir + "/shadow/0/logits_all.npy").read_all<float>();
  std::vector<int64_t> ids = idx.to_vector<int64_t>();
  for (size_t j = 0; j < ids.size(); ++j)
    for (size_t e = 0; e < 180; ++e) ASSERT_NEAR(all[size_t(ids[j]) * 180 + e], gpu[j * 180 + e], 1e-4f * (1 + scale));
}

TEST(SpTrainGpu, KilledRunResumes) {
  SP_REQUIRE_GPU();
  ASSERT_TRUE(fs::exists(kTrain)) << kTrain;
  TempDir t;
  sp::test::write_text(t / "c.json", config(2000, 6));
  const std::string a = t / "a", b = t / "b";
  auto r = sp::test::run_command(kTrain + " " + (t / "c.json") + " --out " + a + " --shadow 0 --device cuda");
  ASSERT_EQ(r.exit_code, 0) << r.output;

  ASSERT_EQ(sp::test::kill_when_file_appears({kTrain, t / "c.json", "--out", b, "--shadow", "0", "--device", "cuda",
                                              "--checkpoint-every", "0"},
                                             b + "/shadow/0/checkpoint.safetensors", 300),
            "");
  ASSERT_FALSE(fs::exists(b + "/shadow/0/metrics.json"));

  r = sp::test::run_command(kTrain + " " + (t / "c.json") + " --out " + b + " --shadow 0 --device cuda");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("resuming from its checkpoint"), std::string::npos) << r.output;
  std::vector<float> la = npy::load(a + "/shadow/0/logits.npy").to_vector<float>();
  std::vector<float> lb = npy::load(b + "/shadow/0/logits.npy").to_vector<float>();
  ASSERT_EQ(la.size(), lb.size());
  float scale = max_abs(la);
  size_t same = 0;
  for (size_t i = 0; i < la.size(); ++i) {
    ASSERT_NEAR(lb[i], la[i], 2e-2f * (1 + scale)) << i;
    same += la[i] == lb[i];
  }
  std::printf("resumed GPU run: %zu of %zu logits bit-identical to the uninterrupted run\n", same, la.size());
}

TEST(SpTrainGpu, BenchRunsOnTheGpu) {
  SP_REQUIRE_GPU();
  ASSERT_TRUE(fs::exists(kTrain)) << kTrain;
  auto r = sp::test::run_command(kTrain + " --bench --device cuda --bench-width 8 --bench-batch 64 --bench-steps 3");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("device cuda:0, f32 (TF32 on)"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("query (18 views)"), std::string::npos) << r.output;
}
