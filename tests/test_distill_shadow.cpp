// The distillation paradigm end to end with build/bin/sp_train, sp_lira and sp_audit on tiny shapes10
// experiments: every shadow distils ipc x classes images from ITS OWN private set (its initial images are
// private samples of their class; an OUT canary never seeds it), records which audit samples seeded it in
// distill.json and groups.npy, trains the audited model only on the synthetic set (train_size, metrics'
// "distill" entry), and the assembled distill_groups.npy drives sp_lira --groups. A distillation killed at a
// checkpoint resumes and ends with the same bytes as an uninterrupted run; a finished one is reused. Bad input
// (an IPC above a class of some private set, an OOD set with other classes) stops before any shadow output is
// written. sp_audit's report has the paradigm's section, its per-group attacks and the two grids.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "data/npy.h"
#include "data/procedural.h"
#include "data/sample_grid.h"
#include "nn/safetensors.h"
#include "plot/write_figure.h"
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

nlohmann::json tiny_config(const nlohmann::json& distill) {
  return {{"paradigm", "distill"},
          {"seed", 3},
          {"num_shadows", 4},
          {"dataset", {{"name", "shapes10"}, {"seed", 2}, {"train", 100}, {"test", 20}}},
          {"model", {{"name", "convnet3"}, {"width", 4}}},
          {"recipe",
           {{"epochs", 4},
            {"batch_size", 8},
            {"optimizer", {{"name", "sgd"}, {"lr", 0.01}, {"momentum", 0.9}, {"weight_decay", 5e-4}}},
            {"schedule", {{"kind", "multistep"}, {"milestones", {2}}, {"gamma", 0.1}}},
            {"augmentation", {{"crop_pad", 0}, {"flip", false}}}}},
          {"distill", distill},
          {"audit", {{"num_audit", 12}}},
          {"device", {{"eval_batch", 216}}}};
}

std::vector<std::string> listing(const std::string& dir) {
  std::vector<std::string> v;
  for (const auto& e : fs::recursive_directory_iterator(dir)) v.push_back(fs::relative(e.path(), dir).string());
  std::sort(v.begin(), v.end());
  return v;
}

}  // namespace

TEST(DistillShadow, SpTrainDistilsEachPrivateSetAndResumes) {
  if (!fs::exists(kTrain) || !fs::exists(kLira)) GTEST_SKIP() << "tools not built";
  TempDir t;
  const nlohmann::json dc = {{"method", "dsa"}, {"ipc", 2}, {"iterations", 3}, {"outer_loop", 2}, {"inner_loop", 1},
                             {"batch_real", 5}, {"net", {{"name", "convnet3"}, {"width", 4}}}, {"loss_every", 1}};
  const std::string cfg = write_config(t, "distill.json", tiny_config(dc)), dir = t / "exp";
  auto r = sp::test::run_command(kTrain + " " + cfg + " --out " + dir + " --device cpu");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  expect_contains(r.output, "shadow 3: distilled 20 images (dsa, ipc 2, init real)");
  expect_contains(r.output, "wrote " + dir + "/distill_groups.npy");

  // The training labels every model sees.
  data::Dataset train = data::make_shapes10(100, 2, "train", 1);
  std::vector<int64_t> labels = train.labels.to_vector<int64_t>();
  std::vector<int64_t> audit = npy::Reader(dir + "/audit/indices.npy").read_integers();
  std::vector<int64_t> audit_labels = npy::Reader(dir + "/audit/labels.npy").read_integers();
  for (size_t j = 0; j < audit.size(); ++j) labels[size_t(audit[j])] = audit_labels[j];
  std::vector<std::vector<int64_t>> sources;
  for (int k = 0; k < 4; ++k) {
    SCOPED_TRACE("shadow " + std::to_string(k));
    const std::string sd = dir + "/shadow/" + std::to_string(k);
    std::vector<int64_t> keep = npy::Reader(sd + "/keep.npy").read_integers();
    for (const char* f : {"init.png", "synthetic.png", "distill.json", "groups.npy", "synthetic.safetensors"})
      EXPECT_TRUE(fs::exists(sd + "/" + f)) << f;
    EXPECT_FALSE(fs::exists(sd + "/distill_checkpoint.safetensors"));
    TensorFile syn = load_safetensors(sd + "/synthetic.safetensors");
    EXPECT_EQ(syn.at("images").shape(), (Shape{20, 3, 32, 32}));
    EXPECT_EQ(syn.at("labels").to_vector<int64_t>(), (std::vector<int64_t>{0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9}));
    EXPECT_EQ(syn.metadata.at("method"), "dsa");
    nlohmann::json rec = read_json(sd + "/distill.json");
    std::vector<int64_t> src = rec["init_source"].get<std::vector<int64_t>>();
    sources.push_back(src);
    ASSERT_EQ(src.size(), 20u);
    std::vector<int64_t> used;
    for (size_t row = 0; row < src.size(); ++row) {
      const int64_t i = src[row];
      auto at = std::lower_bound(audit.begin(), audit.end(), i);
      const bool is_audit = at != audit.end() && *at == i;
      if (is_audit) {
        EXPECT_TRUE(keep[size_t(at - audit.begin())]) << "an OUT canary seeded shadow " << k;
        used.push_back(at - audit.begin());
      }
      EXPECT_EQ(labels[size_t(i)], int64_t(row / 2)) << "row " << row << " seeded from its class (training label)";
    }
    std::sort(used.begin(), used.end());
    EXPECT_EQ(rec["init_audit_positions"].get<std::vector<int64_t>>(), used);
    EXPECT_EQ(rec["loss_curve"].size(), 3u) << "loss_every 1";
    std::vector<int64_t> groups = npy::Reader(sd + "/groups.npy").read_integers();
    int64_t in = 0;
    for (size_t j = 0; j < audit.size(); ++j) {
      const bool u = std::binary_search(used.begin(), used.end(), int64_t(j));
      EXPECT_EQ(groups[j], !keep[j] ? 0 : u ? 1 : 2) << j;
      in += keep[j] != 0;
    }
    nlohmann::json m = read_json(sd + "/metrics.json");
    EXPECT_EQ(m["train_size"], 20) << "the audited model trains on the synthetic set only";
    EXPECT_GT(m["seconds"]["distill"].get<double>(), 0.0);
    EXPECT_EQ(m["distill"]["method"], "dsa");
    EXPECT_EQ(m["distill"]["in_canaries"], in);
    EXPECT_EQ(m["distill"]["in_canaries_init"], int64_t(used.size()));
    EXPECT_EQ(m["distill"]["reused"], false);
  }
  EXPECT_NE(sources[0], sources[1]) << "each shadow draws from its own private set";
  npy::Reader gr(dir + "/distill_groups.npy");
  EXPECT_EQ(gr.shape(), (std::vector<int64_t>{4, 12}));
  auto lira = sp::test::run_command(kLira + " " + dir + " --attacks global_threshold --no-plot --threads 1 --groups " +
                                    dir + "/distill_groups.npy");
  ASSERT_EQ(lira.exit_code, 0) << lira.output;
  nlohmann::json res = read_json(dir + "/lira/results.json");
  EXPECT_EQ(res["groups"]["1"]["global_threshold"]["n_members"].get<int64_t>() +
                res["groups"]["2"]["global_threshold"]["n_members"].get<int64_t>(),
            24);

  // Killed at a distillation checkpoint, then resumed: the same bytes as the uninterrupted run.
  const std::string dir2 = t / "killed", ck = dir2 + "/shadow/1/distill_checkpoint.safetensors";
  ASSERT_EQ(sp::test::kill_when_file_appears(
                {kTrain, cfg, "--out", dir2, "--shadow", "1", "--device", "cpu", "--checkpoint-every", "0"}, ck, 120),
            "");
  ASSERT_TRUE(fs::exists(ck));
  EXPECT_FALSE(fs::exists(dir2 + "/shadow/1/synthetic.safetensors"));
  r = sp::test::run_command(kTrain + " " + cfg + " --out " + dir2 + " --device cpu --shadow 1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  expect_contains(r.output, "shadow 1: resuming its distillation after iteration ");
  for (const char* f : {"synthetic.safetensors", "groups.npy", "model.safetensors", "logits.npy", "scores.npy"})
    EXPECT_EQ(sp::test::read_text(dir2 + "/shadow/1/" + f), sp::test::read_text(dir + "/shadow/1/" + f)) << f;
  EXPECT_EQ(read_json(dir2 + "/shadow/1/distill.json")["loss_curve"], read_json(dir + "/shadow/1/distill.json")["loss_curve"]);

  // A finished distillation is reused when only the training is redone.
  for (const char* f : {"metrics.json", "model.safetensors", "logits.npy", "scores.npy"}) fs::remove(dir2 + "/shadow/1/" + f);
  r = sp::test::run_command(kTrain + " " + cfg + " --out " + dir2 + " --device cpu --shadow 1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  expect_contains(r.output, "shadow 1: reusing its distilled set");
  EXPECT_EQ(sp::test::read_text(dir2 + "/shadow/1/logits.npy"), sp::test::read_text(dir + "/shadow/1/logits.npy"));
  EXPECT_EQ(read_json(dir2 + "/shadow/1/metrics.json")["distill"]["reused"], true);
}

TEST(DistillShadow, BadInputStopsBeforeAnyShadowWork) {
  if (!fs::exists(kTrain)) GTEST_SKIP() << "tools not built";
  TempDir t;
  // IPC 20 exceeds every class of the private sets (100 images, 10 classes).
  nlohmann::json big = tiny_config({{"method", "dm"}, {"ipc", 20}, {"iterations", 1}});
  auto r = sp::test::run_command(kTrain + " " + write_config(t, "big.json", big) + " --out " + (t / "big") + " --device cpu");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  expect_contains(r.output, "distill.ipc: 20 images per class, but class ");
  EXPECT_FALSE(fs::exists(t / "big/shadow/0/init.png")) << "nothing of a shadow written";

  // An OOD set whose classes are not the dataset's.
  for (const char* cls : {"apple", "pear"}) {
    fs::create_directories(t / ("ood/train/" + std::string(cls)));
    std::vector<uint8_t> px(3 * 32 * 32, 90);
    data::write_png(t / ("ood/train/" + std::string(cls) + "/0.png"), px.data(), 3, 32, 32);
  }
  nlohmann::json ood = tiny_config({{"method", "dm"}, {"ipc", 1}, {"iterations", 1}, {"init", "ood"}, {"ood_data", "folder:" + (t / "ood")}});
  const std::string ood_cfg = write_config(t, "ood.json", ood);
  r = sp::test::run_command(kTrain + " " + ood_cfg + " --out " + (t / "ood_run") + " --device cpu");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  expect_contains(r.output, "has the classes [apple, pear]");
  EXPECT_FALSE(fs::exists(t / "ood_run/shadow/0/init.png"));

  // An existing experiment's outputs are untouched by a rejected rerun with another method.
  nlohmann::json good = tiny_config({{"method", "dm"}, {"ipc", 1}, {"iterations", 1}});
  const std::string good_cfg = write_config(t, "good.json", good);
  r = sp::test::run_command(kTrain + " " + good_cfg + " --out " + (t / "exp") + " --device cpu --shadow 0");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::vector<std::string> before = listing(t / "exp");
  const std::string syn = sp::test::read_text(t / "exp/shadow/0/synthetic.safetensors");
  nlohmann::json bad = good;
  bad["distill"]["method"] = "kip";
  r = sp::test::run_command(kTrain + " " + write_config(t, "bad.json", bad) + " --out " + (t / "exp") + " --device cpu");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  expect_contains(r.output, "distill.method");
  EXPECT_EQ(listing(t / "exp"), before);
  EXPECT_EQ(sp::test::read_text(t / "exp/shadow/0/synthetic.safetensors"), syn);
}

TEST(DistillShadow, AuditReportShowsGroupsAndGrids) {
  if (!fs::exists(kAudit)) GTEST_SKIP() << "tools not built";
  TempDir t;
  nlohmann::json c = tiny_config({{"method", "dm"}, {"ipc", 2}, {"iterations", 2}, {"batch_real", 5},
                                  {"net", {{"name", "convnet3"}, {"width", 4}}}});
  c["num_shadows"] = 6;
  const std::string dir = t / "exp";
  auto r = sp::test::run_command(kAudit + " " + write_config(t, "c.json", c) + " --out " + dir + " --device cpu --workers 1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(fs::exists(dir + "/distill_groups.npy"));
  const std::string md = sp::test::read_text(dir + "/report.md");
  expect_contains(md, "## Dataset distillation");
  expect_contains(md, "Method dm, 2 images per class, init real");
  expect_contains(md, "IN, an initial image (1)");
  expect_contains(md, "IN, not an initial image (2)");
  expect_contains(md, "images/distill_synthetic.png");
  expect_contains(md, "images/distill_init.png");
  // The loss plot needs cairo: PNG for the Markdown report, SVG for the HTML one.
  if (sp::plot::plots_available()) {
    expect_contains(md, "images/distill_loss.png");
    expect_contains(sp::test::read_text(dir + "/report.html"), "<img src=\"images/distill_loss.svg\"");
  }
  EXPECT_EQ(fs::exists(dir + "/images/distill_loss.png"), sp::plot::plots_available());
  EXPECT_EQ(fs::exists(dir + "/images/distill_loss.svg"), sp::plot::plots_available());
  EXPECT_TRUE(fs::exists(dir + "/images/distill_synthetic.png"));
  nlohmann::json s = read_json(dir + "/summary.json");
  EXPECT_EQ(s["distill"]["method"], "dm");
  EXPECT_GT(s["distill"]["distill_seconds"]["mean"].get<double>(), 0.0);
}
