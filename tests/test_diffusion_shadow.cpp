// The diffusion paradigm end to end with build/bin/sp_train and sp_audit on tiny shapes10 experiments: each shadow
// trains its DDPM, scores its audit samples, generates (img2img: one SDEdit output per private image; class: n per
// class), writes the grids and the nearest-generated distances, and trains the classifier on the generated set
// only; runs killed while the UNet trains and while it generates resume to the same bytes; a UNet file of another
// shape stops the run before any work; sp_audit attacks the diffusion models and reports their leakage beside the
// classifiers'.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "data/npy.h"
#include "nn/models/ddpm_unet.h"
#include "nn/safetensors.h"
#include "tests/kill_test_util.h"
#include "tests/lira_test_util.h"
#include "tests/tool_test_util.h"

using namespace sp;
using sp::test::TempDir;
namespace fs = std::filesystem;

namespace {

const std::string kTrain = sp::test::tool_path("sp_train");
const std::string kAudit = sp::test::tool_path("sp_audit");
using sp::test::expect_contains;
using sp::test::read_json;
using sp::test::read_text;
using sp::test::write_config;

nlohmann::json tiny_config(const std::string& mode, int shadows = 2, int64_t ch = 8) {
  nlohmann::json d = {{"mode", mode},
                      {"unet", {{"ch", ch}, {"ch_mult", {1, 2}}, {"num_res_blocks", 1}, {"attn_resolutions", {16}},
                                {"norm_groups", 4}}},
                      {"schedule", {{"T", 100}}},
                      {"train", {{"steps", 6}, {"batch", 8}, {"warmup", 2}, {"lr", 1e-3}}},
                      {"sample", {{"steps", 4}, {"guidance", 1.0}, {"batch", 16}}},
                      {"lira", {{"timesteps", {5, 40}}, {"noises", 1}}}};
  if (mode == "class") d["per_class"] = 2;
  return {{"paradigm", "diffusion"},
          {"seed", 3},
          {"num_shadows", shadows},
          {"dataset", {{"name", "shapes10"}, {"seed", 1}, {"train", 40}, {"test", 20}}},
          {"model", {{"name", "resnet18"}, {"width", 4}}},
          {"recipe",
           {{"epochs", 2},
            {"batch_size", 16},
            {"optimizer", {{"name", "adam"}, {"lr", 0.003}}},
            {"augmentation", {{"crop_pad", 0}, {"flip", true}}}}},
          {"audit", {{"num_audit", 8}}},
          {"device", {{"eval_batch", 216}}},
          {"diffusion", d}};
}

const char* kOutputs[] = {"model.safetensors", "logits.npy",          "unet.safetensors",     "diffusion_scores.npy",
                          "generated.npy",     "generated_labels.npy", "generated_source.npy", "samples.png",
                          "pairs.png",         "nearest.json"};

}  // namespace

TEST(DiffusionShadow, SpTrainGeneratesTrainsAndResumes) {
  if (!fs::exists(kTrain)) GTEST_SKIP() << "tools not built";
  TempDir t;
  const std::string cfg = write_config(t, "c.json", tiny_config("img2img")), dir = t / "exp";
  auto r = sp::test::run_command(kTrain + " " + cfg + " --out " + dir + " --device cpu");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  expect_contains(r.output, "shadow 0: training a ");
  expect_contains(r.output, "shadow 1 UNet step 6/6  loss ");
  const std::vector<int64_t> audit = npy::Reader(dir + "/audit/indices.npy").read_integers();
  for (int k = 0; k < 2; ++k) {
    SCOPED_TRACE("shadow " + std::to_string(k));
    const std::string sd = dir + "/shadow/" + std::to_string(k);
    for (const char* f : kOutputs) EXPECT_TRUE(fs::exists(sd + "/" + f)) << f;
    EXPECT_FALSE(fs::exists(sd + "/unet_checkpoint.safetensors"));
    EXPECT_FALSE(fs::exists(sd + "/generated"));
    // One SDEdit output per private image, labelled with the image's training label.
    const std::vector<int64_t> keep = npy::Reader(sd + "/keep.npy").read_integers();
    int64_t in = 0;
    for (int64_t v : keep) in += v != 0;
    const int64_t private_size = 40 - 8 + in;
    npy::Reader g(sd + "/generated.npy");
    EXPECT_EQ(g.dtype(), DType::u8);
    EXPECT_EQ(g.shape(), (std::vector<int64_t>{private_size, 3, 32, 32}));
    const std::vector<int64_t> source = npy::Reader(sd + "/generated_source.npy").read_integers();
    const std::vector<int64_t> labels = npy::Reader(sd + "/generated_labels.npy").read_integers();
    const std::vector<int64_t> audit_labels = npy::Reader(dir + "/audit/labels.npy").read_integers();
    ASSERT_EQ(int64_t(source.size()), private_size);
    for (size_t j = 0; j < audit.size(); ++j) {
      auto it = std::find(source.begin(), source.end(), audit[j]);
      EXPECT_EQ(it != source.end(), keep[j] != 0) << "IN canaries, and only they, are SDEdit sources";
      if (it != source.end()) EXPECT_EQ(labels[size_t(it - source.begin())], audit_labels[j]) << "a canary keeps its flipped label";
    }
    TensorFile u = load_safetensors(sd + "/unet.safetensors");
    EXPECT_EQ(u.at("label_emb.weight").shape(), (Shape{11, 32}));
    EXPECT_EQ(u.metadata.at("weights"), "ema");
    npy::Reader sc(sd + "/diffusion_scores.npy");
    EXPECT_EQ(sc.shape(), (std::vector<int64_t>{8, 2}));
    nlohmann::json near = read_json(sd + "/nearest.json");
    ASSERT_EQ(near["distance"].size(), audit.size());
    for (size_t j = 0; j < audit.size(); ++j) {
      EXPECT_EQ(near["audit_in"][j].get<int>(), int(keep[j] != 0));
      EXPECT_GE(near["distance"][j].get<double>(), 0.0);
      EXPECT_EQ(near["own_output_distance"][j].is_null(), keep[j] == 0);
    }
    nlohmann::json m = read_json(sd + "/metrics.json");
    EXPECT_EQ(m["train_size"], private_size);
    EXPECT_EQ(m["diffusion"]["mode"], "img2img");
    EXPECT_EQ(m["diffusion"]["generated"], private_size);
    EXPECT_EQ(m["diffusion"]["loss_curve"], nullptr) << "the curve stays in diffusion.json";
    EXPECT_TRUE(read_json(sd + "/diffusion.json")["loss_curve"].is_array());
    for (const char* phase : {"diffusion_train", "diffusion_generate", "train"}) EXPECT_GT(m["seconds"][phase].get<double>(), 0.0) << phase;
    EXPECT_GT(m["diffusion"]["train_images_per_s"].get<double>(), 0.0);
    EXPECT_GT(m["diffusion"]["sample_images_per_s"].get<double>(), 0.0);
  }
  // The statistics of the diffusion models use the same queries for every shadow: sp_train's end of run laid them
  // out for sp_lira and attacked them.
  EXPECT_TRUE(fs::exists(dir + "/diffusion_lira/results.json"));
  npy::Reader dl(dir + "/diffusion_lira/shadow/1/logits.npy");
  EXPECT_EQ(dl.shape(), (std::vector<int64_t>{8, 2, 2}));

  // Killed while the UNet trains (a checkpoint after every step), then while it generates: the reruns resume and
  // end with the same bytes.
  const std::string dir2 = t / "killed";
  ASSERT_EQ(sp::test::kill_when_file_appears({kTrain, cfg, "--out", dir2, "--shadow", "1", "--device", "cpu",
                                              "--checkpoint-every", "0"},
                                             dir2 + "/shadow/1/unet_checkpoint.safetensors", 120),
            "");
  ASSERT_FALSE(fs::exists(dir2 + "/shadow/1/unet.safetensors"));
  r = sp::test::run_command(kTrain + " " + cfg + " --out " + dir2 + " --device cpu --shadow 1 --checkpoint-every 0");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  expect_contains(r.output, "shadow 1: resuming its UNet training after step ");
  for (const char* f : kOutputs) EXPECT_EQ(read_text(dir2 + "/shadow/1/" + f), read_text(dir + "/shadow/1/" + f)) << f;

  const std::string dir3 = t / "killed_generating";
  ASSERT_EQ(sp::test::kill_when_file_appears({kTrain, cfg, "--out", dir3, "--shadow", "1", "--device", "cpu"},
                                             dir3 + "/shadow/1/generated/chunk_00000.npy", 120),
            "");
  ASSERT_FALSE(fs::exists(dir3 + "/shadow/1/generated.npy"));
  r = sp::test::run_command(kTrain + " " + cfg + " --out " + dir3 + " --device cpu --shadow 1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  expect_contains(r.output, "shadow 1: reusing its trained UNet");
  for (const char* f : kOutputs) EXPECT_EQ(read_text(dir3 + "/shadow/1/" + f), read_text(dir + "/shadow/1/" + f)) << f;

  // Class-conditional generation: per_class images of every class, no source image; with mix_real the classifier
  // also trains on D_k.
  const std::string dir4 = t / "class";
  nlohmann::json cc = tiny_config("class");
  cc["diffusion"]["mix_real"] = true;
  r = sp::test::run_command(kTrain + " " + write_config(t, "class.json", cc) + " --out " + dir4 + " --device cpu --shadow 0");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::vector<int64_t> cl = npy::Reader(dir4 + "/shadow/0/generated_labels.npy").read_integers();
  EXPECT_EQ(cl, (std::vector<int64_t>{0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9}));
  for (int64_t v : npy::Reader(dir4 + "/shadow/0/generated_source.npy").read_integers()) EXPECT_EQ(v, -1);
  int64_t in0 = 0;
  for (int64_t v : npy::Reader(dir4 + "/shadow/0/keep.npy").read_integers()) in0 += v != 0;
  EXPECT_EQ(read_json(dir4 + "/shadow/0/metrics.json")["train_size"], 20 + (40 - 8 + in0)) << "generated + D_k";
  EXPECT_FALSE(read_json(dir4 + "/shadow/0/nearest.json").contains("own_output_distance"));
}

TEST(DiffusionShadow, UNetFileOfAnotherShapeStopsBeforeAnyWork) {
  if (!fs::exists(kTrain)) GTEST_SKIP() << "tools not built";
  TempDir t;
  const std::string cfg = write_config(t, "c.json", tiny_config("img2img")), dir = t / "exp";
  auto r = sp::test::run_command(kTrain + " " + cfg + " --out " + dir + " --device cpu --shadow 1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  // A wider UNet's file where shadow 0's belongs.
  models::UNetConfig wide;
  wide.ch = 16;
  wide.ch_mult = {1, 2};
  wide.num_res_blocks = 1;
  wide.norm_groups = 4;
  auto u = models::make_ddpm_unet(wide);
  Tensor th = Tensor::empty({u->params().numel()}, DType::f32);
  u->init(Stream::cpu(), th, Tensor(), 1);
  fs::create_directories(dir + "/shadow/0");
  save_safetensors(dir + "/shadow/0/unet.safetensors", u->params().named(th));
  r = sp::test::run_command(kTrain + " " + cfg + " --out " + dir + " --device cpu --shadow 1");
  EXPECT_NE(r.exit_code, 0) << r.output;
  expect_contains(r.output, dir + "/shadow/0/unet.safetensors: temb.dense.0.weight has shape [64, 16], diffusion.unet gives [32, 8]");
  EXPECT_FALSE(fs::exists(dir + "/shadow/0/generated.npy"));
  // A training checkpoint of another size likewise.
  fs::remove(dir + "/shadow/0/unet.safetensors");
  save_safetensors(dir + "/shadow/0/unet_checkpoint.safetensors", {{"unet.ema", th}, {"unet.theta", th}});
  r = sp::test::run_command(kTrain + " " + cfg + " --out " + dir + " --device cpu --shadow 0");
  EXPECT_NE(r.exit_code, 0) << r.output;
  expect_contains(r.output, "unet_checkpoint.safetensors: holds a UNet of ");
  EXPECT_FALSE(fs::exists(dir + "/shadow/0/diffusion_scores.npy"));
}

TEST(DiffusionShadow, AuditReportShowsGeneratorLeakage) {
  if (!fs::exists(kAudit)) GTEST_SKIP() << "tools not built";
  TempDir t;
  const std::string dir = t / "exp";
  auto r = sp::test::run_command(kAudit + " " + write_config(t, "c.json", tiny_config("img2img", 4)) + " --out " + dir +
                                 " --bootstrap 0");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(fs::exists(dir + "/diffusion_lira/results.json"));
  for (const char* f : {"images/diffusion_samples.png", "images/diffusion_pairs.png"}) EXPECT_TRUE(fs::exists(dir + "/" + f)) << f;
  nlohmann::json s = read_json(dir + "/summary.json");
  ASSERT_TRUE(s.contains("diffusion")) << s.dump(1);
  EXPECT_TRUE(s["diffusion"].contains("generator_privacy"));
  EXPECT_EQ(s["diffusion"]["mode"], "img2img");
  EXPECT_TRUE(s["diffusion"]["median_nearest_in"]["mean"].is_number());
  const std::string report = read_text(dir + "/report.md");
  expect_contains(report, "## Diffusion-generated training data");
  expect_contains(report, "diffusion model TPR@0.1%FPR");
  expect_contains(report, "diffusion_pairs.png");
  expect_contains(report, "own SDEdit outputs lie at");
  expect_contains(report, "how much of it survives");
}
