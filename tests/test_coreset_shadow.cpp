// Coreset selection end to end. In process: every method selects per-class budgets of distinct positions on
// a tiny shapes10 set with a tiny ResNet-18, deterministically from the seed. With build/bin/sp_train on a
// tiny coreset experiment: each shadow's selected.npy is an ascending int64 subset of ITS OWN private set
// (never an OUT canary) with the balanced budget, groups.npy and metrics.json agree with it (selection and
// training seconds, coreset size, class histogram, IN canaries selected), the selection is the same in
// another directory (deterministic from the experiment seed and k), a run interrupted after the selection
// reuses selected.npy and ends with the same outputs, and the assembled [S, M] group file (sp_train's and
// sp_coreset_groups') drives sp_lira --groups.
#include <filesystem>
#include <nlohmann/json.hpp>

#include "data/audit.h"
#include "data/dataset.h"
#include "data/npy.h"
#include "data/procedural.h"
#include "kernels/counter_rng.h"
#include "paradigms/coreset/budget.h"
#include "paradigms/coreset/coreset_shadow.h"
#include "paradigms/coreset/select.h"
#include "tests/lira_test_util.h"
#include "tests/test_util.h"

using namespace sp;
using namespace sp::coreset;
using sp::test::TempDir;
namespace fs = std::filesystem;

namespace {

const std::string kTrain = std::string(SP_BINARY_DIR) + "/bin/sp_train";
const std::string kLira = std::string(SP_BINARY_DIR) + "/bin/sp_lira";
const std::string kGroups = std::string(SP_BINARY_DIR) + "/bin/sp_coreset_groups";

std::vector<int64_t> expected_sizes(const std::vector<int64_t>& labels, double fraction, int64_t C) {
  std::vector<int64_t> n(size_t(C), 0), out;
  for (int64_t y : labels) ++n[size_t(y)];
  for (int64_t c : n) out.push_back(pool_budget(c, fraction));
  return out;
}

std::vector<int64_t> histogram(const std::vector<int64_t>& labels, const std::vector<int64_t>& positions, int64_t C) {
  std::vector<int64_t> h(size_t(C), 0);
  for (int64_t p : positions) ++h[size_t(labels[size_t(p)])];
  return h;
}

nlohmann::json read_json(const std::string& path) { return nlohmann::json::parse(sp::test::read_text(path)); }

void expect_contains(const std::string& text, const std::string& needle) {
  EXPECT_NE(text.find(needle), std::string::npos) << "expected '" << needle << "' in:\n" << text;
}

std::string tiny_coreset_config(const std::string& method) {
  nlohmann::json j = {
      {"paradigm", "coreset"},
      {"seed", 5},
      {"num_shadows", 4},
      {"dataset", {{"name", "shapes10"}, {"seed", 2}, {"train", 100}, {"test", 20}}},
      {"model", {{"name", "resnet18"}, {"width", 2}}},
      {"recipe",
       {{"epochs", 2},
        {"batch_size", 25},
        {"optimizer", {{"name", "sgd"}, {"lr", 0.05}, {"momentum", 0.9}}},
        {"augmentation", {{"crop_pad", 0}, {"flip", true}}}}},
      {"coreset", {{"method", method}, {"fraction", 0.4}, {"selection_epochs", 2}}},
      {"audit", {{"num_audit", 12}}},
      {"device", {{"eval_batch", 216}}}};
  return j.dump(2);
}

}  // namespace

TEST(CoresetShadow, EveryMethodSelectsBalancedDeterministicSubsets) {
  data::Dataset ds = data::make_shapes10(40, 4, "train", 1);
  Stream& s = Stream::cpu();
  DeviceData d = DeviceData::upload(ds, s);
  ModelConfig mc;
  mc.width = 2;
  auto model = make_model(mc);
  SelectionContext ctx;
  ctx.model = model.get();
  ctx.recipe.epochs = 2;
  ctx.recipe.batch_size = 20;  // 2 steps per epoch
  ctx.recipe.schedule.base_lr = 0.05;
  ctx.data = &d;
  ctx.stream = &s;
  ctx.eval_batch = 15;  // several eval batches
  ctx.seed = 17;
  const std::vector<int64_t> want = expected_sizes(d.host_labels, 0.4, 10);
  for (const std::string& name : method_names()) {
    SCOPED_TRACE(name);
    CoresetConfig c;
    c.method = Method(std::find(method_names().begin(), method_names().end(), name) - method_names().begin());
    c.fraction = 0.4;
    c.selection_epochs = 1;
    c.repeats = 2;
    c.score = Uncertainty::entropy;
    SelectionResult a = select_coreset(c, ctx);
    EXPECT_EQ(histogram(d.host_labels, a.positions, 10), want);
    EXPECT_TRUE(std::is_sorted(a.positions.begin(), a.positions.end()));
    EXPECT_EQ(std::adjacent_find(a.positions.begin(), a.positions.end()), a.positions.end());
    EXPECT_EQ(a.details["method"], name);
    if (c.method != Method::uniform) {
      EXPECT_EQ(a.details["runs"].size(), size_t(c.method == Method::el2n || c.method == Method::grand ? 2 : 1));
    }
    SelectionResult b = select_coreset(c, ctx);
    EXPECT_EQ(b.positions, a.positions) << "deterministic from the seed";
    // Unbalanced: one global budget (a score-free and a feature-based method suffice: pools are generic).
    if (c.method == Method::uniform || c.method == Method::kcenter) {
      c.balance = false;
      EXPECT_EQ(select_coreset(c, ctx).positions.size(), 16u);
    }
  }
  // Another seed, another uniform subset.
  CoresetConfig u;
  SelectionContext other = ctx;
  other.seed = 18;
  EXPECT_NE(select_coreset(u, other).positions, select_coreset(u, ctx).positions);
}

// On a task a small model learns in a few epochs (4 classes told apart by colour, 16x16 images), the
// mislabeled samples are the ones the model never fits: forgetting and EL2N must keep far more of them than
// their share, uniform about its fraction.
TEST(CoresetShadow, ForgettingAndEl2nPreferMislabeledSamplesOnALearnableTask) {
  const int64_t n = 120;
  data::Dataset ds = data::make_dataset("colours", n, 3, 16, 16, {"red", "green", "blue", "white"});
  std::vector<int64_t> labels(static_cast<size_t>(n)), mislabeled;
  crng::Stream32 rng(5, 0);
  uint8_t* px = ds.images.data<uint8_t>();
  for (int64_t i = 0; i < n; ++i) {
    const int64_t c = i % 4;
    for (int64_t ch = 0; ch < 3; ++ch)
      for (int64_t p = 0; p < 256; ++p) {
        int on = c == 3 || c == ch;
        px[(i * 3 + ch) * 256 + p] = uint8_t(on * 150 + rng.below(100));
      }
    labels[size_t(i)] = c;
    if (i / 4 % 5 == 0) {  // 24 samples (6 per class) get another class's label
      labels[size_t(i)] = (c + 1 + i / 20 % 3) % 4;
      mislabeled.push_back(i);
    }
  }
  ds.labels = Tensor::from_vector(labels, {n});
  Stream& s = Stream::cpu();
  DeviceData d = DeviceData::upload(ds, s);
  ModelConfig mc;
  mc.name = "convnet3";
  mc.width = 8;
  mc.image_size = 16;
  mc.num_classes = 4;
  auto model = make_model(mc);
  SelectionContext ctx;
  ctx.model = model.get();
  ctx.recipe.epochs = 6;
  ctx.recipe.batch_size = 20;
  ctx.recipe.optim.kind = OptimKind::adam;
  ctx.recipe.schedule.base_lr = 0.01;
  ctx.recipe.augment = false;
  ctx.data = &d;
  ctx.stream = &s;
  ctx.eval_batch = 60;
  ctx.seed = 2;
  auto kept = [&](Method m) {
    CoresetConfig c;
    c.method = m;
    c.fraction = 0.25;  // 30 samples, 7-8 per class
    c.selection_epochs = 6;
    c.repeats = 2;
    std::vector<int64_t> pos = select_coreset(c, ctx).positions;
    int64_t hit = 0;
    for (int64_t i : mislabeled) hit += std::binary_search(pos.begin(), pos.end(), i);
    return double(hit) / double(mislabeled.size());
  };
  const double forgetting = kept(Method::forgetting), el2n = kept(Method::el2n), uniform = kept(Method::uniform);
  RecordProperty("mislabeled_kept", std::to_string(forgetting) + " " + std::to_string(el2n) + " " + std::to_string(uniform));
  EXPECT_GE(forgetting, 0.8);
  EXPECT_GE(el2n, 0.8);
  EXPECT_LE(uniform, 0.5);
}

TEST(CoresetShadow, SpTrainSelectsFromEachPrivateSetAndResumes) {
  if (!fs::exists(kTrain) || !fs::exists(kLira) || !fs::exists(kGroups)) GTEST_SKIP() << "tools not built";
  TempDir t;
  const std::string cfg = t / "coreset.json", dir = t / "exp";
  sp::test::write_text(cfg, tiny_coreset_config("forgetting"));
  auto r = sp::test::run_command(kTrain + " " + cfg + " --out " + dir + " --device cpu");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  expect_contains(r.output, "shadow 3: coreset forgetting");
  expect_contains(r.output, "wrote " + dir + "/coreset_groups.npy");

  data::Dataset train = data::make_shapes10(100, 2, "train", 1);
  std::vector<int64_t> labels = train.labels.to_vector<int64_t>();
  std::vector<int64_t> audit = npy::Reader(dir + "/audit/indices.npy").read_integers();
  std::vector<int64_t> audit_labels = npy::Reader(dir + "/audit/labels.npy").read_integers();
  for (size_t j = 0; j < audit.size(); ++j) labels[size_t(audit[j])] = audit_labels[j];
  std::vector<std::vector<int64_t>> selections;
  for (int k = 0; k < 4; ++k) {
    SCOPED_TRACE("shadow " + std::to_string(k));
    const std::string sd = dir + "/shadow/" + std::to_string(k);
    std::vector<int64_t> keep = npy::Reader(sd + "/keep.npy").read_integers();
    // The private set: every non-audit sample plus the IN audit samples.
    std::vector<int64_t> priv;
    for (int64_t i = 0; i < 100; ++i) {
      auto at = std::lower_bound(audit.begin(), audit.end(), i);
      if (at == audit.end() || *at != i || keep[size_t(at - audit.begin())]) priv.push_back(i);
    }
    npy::Reader sr(sd + "/selected.npy");
    EXPECT_EQ(sr.dtype(), DType::i64);
    std::vector<int64_t> sel = sr.read_integers();
    selections.push_back(sel);
    EXPECT_TRUE(std::is_sorted(sel.begin(), sel.end()));
    EXPECT_TRUE(std::includes(priv.begin(), priv.end(), sel.begin(), sel.end())) << "a subset of its own private set";
    std::vector<int64_t> priv_labels, pos;
    for (int64_t i : priv) priv_labels.push_back(labels[size_t(i)]);
    for (int64_t i : sel) pos.push_back(std::lower_bound(priv.begin(), priv.end(), i) - priv.begin());
    EXPECT_EQ(histogram(priv_labels, pos, 10), expected_sizes(priv_labels, 0.4, 10));

    std::vector<int64_t> groups = npy::Reader(sd + "/groups.npy").read_integers();
    int64_t in = 0, in_sel = 0;
    for (size_t j = 0; j < audit.size(); ++j) {
      bool chosen = std::binary_search(sel.begin(), sel.end(), audit[j]);
      EXPECT_EQ(groups[j], !keep[j] ? 0 : chosen ? 1 : 2) << j;
      in += keep[j] != 0;
      in_sel += chosen;
    }
    nlohmann::json m = read_json(sd + "/metrics.json");
    EXPECT_GE(m["seconds"]["select"].get<double>(), 0.0);
    EXPECT_GT(m["seconds"]["train"].get<double>(), 0.0);
    EXPECT_EQ(m["train_size"], int64_t(sel.size()));
    const nlohmann::json& c = m["coreset"];
    EXPECT_EQ(c["method"], "forgetting");
    EXPECT_EQ(c["size"], int64_t(sel.size()));
    EXPECT_EQ(c["private_size"], int64_t(priv.size()));
    EXPECT_EQ(c["class_histogram"].get<std::vector<int64_t>>(), expected_sizes(priv_labels, 0.4, 10));
    EXPECT_EQ(c["in_canaries"], in);
    EXPECT_EQ(c["in_canaries"], m["num_audit_in"]);
    EXPECT_EQ(c["in_canaries_selected"], in_sel);
    EXPECT_DOUBLE_EQ(c["in_canaries_selected_fraction"].get<double>(), in ? double(in_sel) / double(in) : 0.0);
    EXPECT_EQ(c["selection_reused"], false);
    EXPECT_EQ(c["selection"]["runs"][0]["epochs"], 2);
    EXPECT_TRUE(c["selection"]["forgetting_events"].contains("infinite"));
    EXPECT_EQ(c["selection"]["scores_of_in_canaries"]["infinite"].get<int64_t>() +
                  c["selection"]["scores_of_others"]["infinite"].get<int64_t>(),
              c["selection"]["forgetting_events"]["infinite"].get<int64_t>());
  }
  EXPECT_NE(selections[0], selections[1]) << "each shadow selects from its own set";

  // The assembled group file: [S, M], IN pairs as in groups.npy, OUT pairs split between 1 and 2.
  npy::Reader gr(dir + "/coreset_groups.npy");
  EXPECT_EQ(gr.shape(), (std::vector<int64_t>{4, 12}));
  std::vector<int64_t> g = gr.read_integers();
  int64_t out_in_1 = 0, out_in_2 = 0;
  for (int k = 0; k < 4; ++k) {
    std::vector<int64_t> own = npy::Reader(dir + "/shadow/" + std::to_string(k) + "/groups.npy").read_integers();
    for (size_t j = 0; j < 12; ++j) {
      int64_t v = g[size_t(k) * 12 + j];
      if (own[j] != 0) {
        EXPECT_EQ(v, own[j]);
      } else {
        EXPECT_TRUE(v == 1 || v == 2) << v;
        (v == 1 ? out_in_1 : out_in_2) += 1;
      }
    }
  }
  EXPECT_EQ(out_in_1 + out_in_2, 24);  // each audit sample is OUT for half of the 4 models
  EXPECT_GT(out_in_1, 0);
  EXPECT_GT(out_in_2, 0);
  auto tool = sp::test::run_command(kGroups + " " + dir + " --out " + (t / "g.npy"));
  ASSERT_EQ(tool.exit_code, 0) << tool.output;
  EXPECT_EQ(sp::test::read_text(t / "g.npy"), sp::test::read_text(dir + "/coreset_groups.npy"));
  auto lira = sp::test::run_command(kLira + " " + dir + " --attacks global_threshold --no-plot --threads 1 --groups " +
                                    dir + "/coreset_groups.npy");
  ASSERT_EQ(lira.exit_code, 0) << lira.output;
  nlohmann::json res = read_json(dir + "/lira/results.json");
  for (const char* grp : {"1", "2"}) {
    const nlohmann::json& gm = res["groups"][grp]["global_threshold"];
    EXPECT_GT(gm["n_members"].get<int64_t>(), 0) << grp;
    EXPECT_GT(gm["n_nonmembers"].get<int64_t>(), 0) << grp;
  }
  EXPECT_EQ(res["groups"]["1"]["global_threshold"]["n_members"].get<int64_t>() +
                res["groups"]["2"]["global_threshold"]["n_members"].get<int64_t>(),
            24);

  // Another directory, interrupted after shadow 0's selection: the same selection, then reused on resume
  // with the same outputs as the uninterrupted run.
  const std::string dir2 = t / "exp2";
  r = sp::test::run_command(kTrain + " " + cfg + " --out " + dir2 + " --device cpu --shadow 0");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string sd = dir2 + "/shadow/0";
  EXPECT_EQ(sp::test::read_text(sd + "/selected.npy"), sp::test::read_text(dir + "/shadow/0/selected.npy"));
  EXPECT_FALSE(fs::exists(dir2 + "/coreset_groups.npy")) << "only when every shadow is selected";
  for (const char* f : {"metrics.json", "model.safetensors", "logits.npy", "scores.npy", "groups.npy"}) fs::remove(sd + "/" + f);
  r = sp::test::run_command(kTrain + " " + cfg + " --out " + dir2 + " --device cpu --shadow 0");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  expect_contains(r.output, "shadow 0: reusing its coreset");
  for (const char* f : {"selected.npy", "groups.npy", "logits.npy", "scores.npy", "model.safetensors"})
    EXPECT_EQ(sp::test::read_text(sd + "/" + f), sp::test::read_text(dir + "/shadow/0/" + f)) << f;
  nlohmann::json m = read_json(sd + "/metrics.json");
  EXPECT_EQ(m["coreset"]["selection_reused"], true);
  EXPECT_EQ(m["seconds"]["select"], read_json(sd + "/coreset.json")["seconds"]);

  // A selected.npy that is not a subset of the private set is refused.
  fs::remove(sd + "/metrics.json");
  std::vector<int64_t> keep0 = npy::Reader(sd + "/keep.npy").read_integers();
  const size_t out_j = size_t(std::find(keep0.begin(), keep0.end(), 0) - keep0.begin());
  ASSERT_LT(out_j, keep0.size());
  npy::write(sd + "/selected.npy", std::vector<int64_t>{1}, std::vector<int64_t>{audit[out_j]});
  r = sp::test::run_command(kTrain + " " + cfg + " --out " + dir2 + " --device cpu --shadow 0");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  expect_contains(r.output, "outside this model's private training set");
}
