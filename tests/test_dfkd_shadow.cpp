// Data-free knowledge distillation end to end with build/bin/sp_train and sp_audit on tiny shapes10
// experiments: each shadow trains its teacher as a baseline under OUT/teacher (or reuses one from a named
// experiment), fills the 8-bit memory bank, distils the student and writes the bank grid, the generator and the
// Fig. 9 distances; a run killed mid-training resumes to the same bytes; bad teachers stop the run before any
// work; sp_audit's report sets the students' leakage beside their teachers'.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "data/npy.h"
#include "nn/model.h"
#include "nn/safetensors.h"
#include "paradigms/engine/model_file.h"
#include "plot/write_figure.h"
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

nlohmann::json teacher_inline(const std::string& model = "resnet18") {
  return {{"model", {{"name", model}, {"width", 4}}},
          {"recipe",
           {{"epochs", 2},
            {"batch_size", 16},
            {"optimizer", {{"name", "adam"}, {"lr", 0.003}}},
            {"augmentation", {{"crop_pad", 0}, {"flip", true}}}}}};
}

nlohmann::json tiny_config(const nlohmann::json& teacher, int shadows = 2) {
  return {{"paradigm", "dfkd"},
          {"seed", 3},
          {"num_shadows", shadows},
          {"dataset", {{"name", "shapes10"}, {"seed", 1}, {"train", 120}, {"test", 40}}},
          {"model", {{"name", "resnet18"}, {"width", 4}}},
          {"recipe",
           {{"epochs", 5},
            {"batch_size", 16},
            {"optimizer", {{"name", "sgd"}, {"lr", 0.05}, {"momentum", 0.9}, {"weight_decay", 5e-4}}},
            {"augmentation", {{"crop_pad", 4}, {"flip", true}}}}},
          {"audit", {{"num_audit", 12}}},
          {"device", {{"eval_batch", 216}}},
          {"dfkd",
           {{"method", "bn"},
            {"teacher", teacher},
            {"warmup", 2},
            {"student_passes", 2},
            {"cosine_t_max", 3},
            {"generator", {{"latent", 8}, {"width", 4}}},
            {"synthesis", {{"batch", 8}, {"g_steps", 2}}},
            {"distances", {{"clean_samples", 20}}}}}};
}

const char* kOutputs[] = {"model.safetensors", "logits.npy", "generator.safetensors", "logit_distances.json",
                          "bank/epoch_0000.npy", "bank/epoch_0004.npy", "bank.png"};

}  // namespace

TEST(DfkdShadow, SpTrainDistilsFromTeachersAndResumes) {
  if (!fs::exists(kTrain)) GTEST_SKIP() << "tools not built";
  TempDir t;
  const std::string cfg = write_config(t, "c.json", tiny_config(teacher_inline())), dir = t / "exp";
  auto r = sp::test::run_command(kTrain + " " + cfg + " --out " + dir + " --device cpu");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  expect_contains(r.output, "shadow 1: training its teacher in " + fs::absolute(dir).lexically_normal().string() + "/teacher");
  expect_contains(r.output, "shadow 0 synthesis epoch 5: loss ");
  EXPECT_EQ(read_json(dir + "/teacher/config.json")["paradigm"], "baseline");
  EXPECT_EQ(npy::Reader(dir + "/teacher/population/labels.npy").read_integers(),
            npy::Reader(dir + "/population/labels.npy").read_integers());
  const std::vector<int64_t> audit = npy::Reader(dir + "/audit/indices.npy").read_integers();
  for (int k = 0; k < 2; ++k) {
    SCOPED_TRACE("shadow " + std::to_string(k));
    const std::string sd = dir + "/shadow/" + std::to_string(k);
    for (const char* f : kOutputs) EXPECT_TRUE(fs::exists(sd + "/" + f)) << f;
    EXPECT_TRUE(fs::exists(dir + "/teacher/shadow/" + std::to_string(k) + "/metrics.json"));
    // Teachers and students both query the population, so RMIA can attack either experiment.
    EXPECT_TRUE(fs::exists(dir + "/teacher/shadow/" + std::to_string(k) + "/population_logits.npy"));
    EXPECT_TRUE(fs::exists(sd + "/population_logits.npy"));
    npy::Reader b(sd + "/bank/epoch_0003.npy");
    EXPECT_EQ(b.dtype(), DType::u8);
    EXPECT_EQ(b.shape(), (std::vector<int64_t>{8, 3, 32, 32}));
    TensorFile g = load_safetensors(sd + "/generator.safetensors");
    EXPECT_TRUE(g.contains("l1.0.weight"));
    EXPECT_EQ(g.at("l1.0.weight").shape(), (Shape{512, 8}));  // 2 x width 4 channels of 8 x 8
    nlohmann::json m = read_json(sd + "/metrics.json");
    const nlohmann::json& d = m["dfkd"];
    EXPECT_EQ(d["method"], "bn");
    EXPECT_EQ(d["bank_images"], 40);
    EXPECT_EQ(m["train_size"], 40);
    EXPECT_GE(d["best_epoch"].get<int>(), 3);
    EXPECT_LE(d["best_epoch"].get<int>(), 5);
    EXPECT_TRUE(d["selected_on_test_data"].get<bool>());
    EXPECT_GT(d["teacher_seconds_trained_now"].get<double>(), 0.0);
    EXPECT_EQ(d["teacher_test_accuracy"], read_json(dir + "/teacher/shadow/" + std::to_string(k) + "/metrics.json")["test_accuracy"]);
    for (const char* phase : {"teacher", "synthesis", "train"}) EXPECT_GT(m["seconds"][phase].get<double>(), 0.0) << phase;
    // Fig. 9: every audit sample, IN as keep.npy says, and a sample of clean members of D_k.
    nlohmann::json ld = read_json(sd + "/logit_distances.json");
    std::vector<int64_t> keep = npy::Reader(sd + "/keep.npy").read_integers();
    ASSERT_EQ(ld["audit_distance"].size(), audit.size());
    for (size_t j = 0; j < audit.size(); ++j) {
      EXPECT_EQ(ld["audit_in"][j].get<int>(), int(keep[j] != 0)) << j;
      EXPECT_GE(ld["audit_distance"][j].get<double>(), 0.0);
      EXPECT_EQ(ld["audit_indices"][j].get<int64_t>(), audit[j]);
    }
    EXPECT_EQ(ld["clean_distance"].size(), 20u);
    for (const auto& i : ld["clean_indices"])
      EXPECT_EQ(std::find(audit.begin(), audit.end(), i.get<int64_t>()), audit.end()) << "clean images are not audit samples";
    EXPECT_EQ(d["distances"]["in_canaries"].get<int64_t>() + d["distances"]["out_canaries"].get<int64_t>(), 12);
  }

  // Killed during a student epoch: the rerun resumes from the epoch checkpoint and ends with the same bytes.
  const std::string dir2 = t / "killed", mark = dir2 + "/shadow/1/bank/epoch_0003.npy";
  ASSERT_EQ(sp::test::kill_when_file_appears(
                {kTrain, cfg, "--out", dir2, "--shadow", "1", "--device", "cpu", "--checkpoint-every", "0"}, mark, 120),
            "");
  ASSERT_FALSE(fs::exists(dir2 + "/shadow/1/metrics.json"));
  r = sp::test::run_command(kTrain + " " + cfg + " --out " + dir2 + " --device cpu --shadow 1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  expect_contains(r.output, "shadow 1: resuming from its checkpoint after epoch ");
  EXPECT_EQ(r.output.find("training its teacher"), std::string::npos) << "the teacher was done before the kill";
  for (const char* f : kOutputs)
    EXPECT_EQ(read_text(dir2 + "/shadow/1/" + f), read_text(dir + "/shadow/1/" + f)) << f;

  // The teachers of a named experiment are reused: the same students, no teacher trained.
  const std::string cfg3 = write_config(t, "c3.json", tiny_config({{"experiment", dir + "/teacher"}})), dir3 = t / "reuse";
  r = sp::test::run_command(kTrain + " " + cfg3 + " --out " + dir3 + " --device cpu --shadow 0");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output.find("training its teacher"), std::string::npos) << r.output;
  EXPECT_DOUBLE_EQ(read_json(dir3 + "/shadow/0/metrics.json")["dfkd"]["teacher_seconds_trained_now"].get<double>(), 0.0);
  EXPECT_EQ(read_text(dir3 + "/shadow/0/logits.npy"), read_text(dir + "/shadow/0/logits.npy"));
}

TEST(DfkdShadow, BadTeachersStopBeforeAnyWork) {
  if (!fs::exists(kTrain)) GTEST_SKIP() << "tools not built";
  TempDir t;
  auto refused = [&](const nlohmann::json& teacher, const std::string& needle, const std::string& name) {
    SCOPED_TRACE(name);
    const std::string out = t / ("out_" + name);
    auto r = sp::test::run_command(kTrain + " " + write_config(t, name + ".json", tiny_config(teacher)) + " --out " + out +
                                   " --device cpu --shadow 0");
    EXPECT_NE(r.exit_code, 0) << r.output;
    expect_contains(r.output, needle);
    EXPECT_FALSE(fs::exists(out + "/shadow/0/bank")) << "no synthesis started";
    EXPECT_FALSE(fs::exists(out + "/teacher/shadow/0/metrics.json")) << "no teacher trained";
  };
  refused({{"experiment", t / "nowhere"}}, "dfkd.teacher.experiment: " + (t / "nowhere") + " does not exist",
          "missing");
  refused(teacher_inline("convnet3"), "has no BatchNorm layers", "no_bn");

  // A teacher experiment with one finished teacher, then damaged or of other data.
  const std::string base = t / "base";
  auto r = sp::test::run_command(kTrain + " " + write_config(t, "b.json", tiny_config(teacher_inline())) + " --out " + base +
                                 " --device cpu --shadow 0");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string te = base + "/teacher";
  fs::copy(te, t / "other_classes", fs::copy_options::recursive);
  {
    ModelConfig mc;
    mc.name = "resnet18";
    mc.width = 4;
    mc.num_classes = 5;
    auto m = make_model(mc);
    Tensor th = Tensor::empty({m->params().numel()}, DType::f32), bu = Tensor::empty({m->buffers().numel()}, DType::f32);
    m->init(Stream::cpu(), th, bu, 1);
    fs::create_directories(t / "other_classes/shadow/1");
    save_model(t / "other_classes/shadow/1/model.safetensors", *m, th, bu, 0);
  }
  refused({{"experiment", (t / "other_classes")}}, "is a resnet18 of width 4 with 5 classes", "classes");
  fs::copy(te, t / "other_seed", fs::copy_options::recursive);
  nlohmann::json c = read_json(t / "other_seed/config.json");
  c["seed"] = 4;
  sp::test::write_text(t / "other_seed/config.json", c.dump(2));
  refused({{"experiment", (t / "other_seed")}}, "was made from other data, audit samples or membership", "seed");
  fs::copy(te, t / "student_dir", fs::copy_options::recursive);
  sp::test::write_text(t / "student_dir/config.json", tiny_config({{"experiment", te}}).dump(2));
  refused({{"experiment", (t / "student_dir")}}, "is itself a DFKD experiment", "dfkd_teacher");
}

TEST(DfkdShadow, AuditReportShowsTeacherAndDistances) {
  if (!fs::exists(kAudit)) GTEST_SKIP() << "tools not built";
  TempDir t;
  const std::string dir = t / "exp";
  auto r = sp::test::run_command(kAudit + " " + write_config(t, "c.json", tiny_config(teacher_inline(), 4)) + " --out " + dir +
                                 " --bootstrap 0");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  // The last worker's sp_train attacked the teachers once all four existed.
  EXPECT_TRUE(fs::exists(dir + "/teacher_lira/results.json"));
  EXPECT_TRUE(fs::exists(dir + "/images/dfkd_bank_shadow0.png"));
  // The distance plot needs cairo: PNG for the Markdown report, SVG for the HTML one.
  for (const char* f : {"images/dfkd_logit_distances.png", "images/dfkd_logit_distances.svg"})
    EXPECT_EQ(fs::exists(dir + "/" + f), sp::plot::plots_available()) << f;
  nlohmann::json s = read_json(dir + "/summary.json");
  ASSERT_TRUE(s.contains("dfkd")) << s.dump(1);
  EXPECT_TRUE(s["dfkd"].contains("teacher_privacy"));
  EXPECT_TRUE(s["dfkd"]["median_distance_in_canaries"].is_number());
  EXPECT_EQ(s["dfkd"]["bank_images"]["mean"], 40.0);
  const std::string report = read_text(dir + "/report.md");
  expect_contains(report, "## Data-free knowledge distillation");
  expect_contains(report, "teacher TPR@0.1%FPR");
  expect_contains(report, "model selection on test data");
  if (sp::plot::plots_available()) {
    expect_contains(report, "dfkd_logit_distances.png");
    expect_contains(read_text(dir + "/report.html"), "<img src=\"images/dfkd_logit_distances.svg\"");
  }
  expect_contains(report, "Distance in the teacher's logit space to the nearest generated image");
}
