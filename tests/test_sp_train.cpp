// End to end: build/bin/sp_train on tiny shapes10 experiments. Every output's dtype and shape, the metrics
// fields, consistency of the files with each other and with the library (scores = LiRA statistic of the
// logits, the saved model reproduces the logits), skipping finished shadows, --query-all, a SIGKILL or a
// SIGTERM in the middle of an epoch followed by a rerun giving the same bytes as an uninterrupted run, sp_lira
// reading the result, --bench, and the bad inputs of issue 4 (typo, shadow out of range, another configuration in the
// directory, an unusable output path, a full disk) ending with a message, a non-zero exit and the existing
// outputs untouched. Array tasks starting at once on one directory: one configuration wins, every other
// one is refused (config.json is written under the experiment lock). --slurm --dry-run writes the array.
// audit.query_views: a recipe without augmentation is queried on the clean view alone, one that only flips
// on the clean view and its flip, each exactly the matching slices of the 18 views of the same models, with
// the value in config.json and metrics.json and named by sp_lira; a directory from before the key keeps all
// 18 views when resumed (sp_train, --slurm) and refuses an explicit other choice.
// Also the model-file and epoch-checkpoint helpers and the progress formatting.
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "data/npy.h"
#include "data/sources.h"
#include "kernels/lira_stat.h"
#include "nn/safetensors.h"
#include "paradigms/engine/model_file.h"
#include "paradigms/engine/progress.h"
#include "paradigms/engine/train_state.h"
#include "tests/kill_test_util.h"
#include "tests/lira_test_util.h"
#include "tests/process_test_util.h"
#include "tests/test_util.h"

using namespace sp;
using sp::test::TempDir;
namespace fs = std::filesystem;

namespace {

const std::string kTrain = std::string(SP_BINARY_DIR) + "/bin/sp_train";
const std::string kLira = std::string(SP_BINARY_DIR) + "/bin/sp_lira";

#define REQUIRE_BINARIES()                                                                        \
  do {                                                                                            \
    if (!fs::exists(kTrain) || !fs::exists(kLira)) GTEST_SKIP() << "sp_train/sp_lira not built"; \
  } while (0)

// A tiny experiment: shapes10 with `train` images, ResNet-18 of width 2 (seconds even in a debug build).
std::string tiny_config(int shadows, int epochs, int64_t train, int64_t audit, int64_t batch = 32) {
  nlohmann::json j = {
      {"seed", 3},
      {"num_shadows", shadows},
      {"dataset", {{"name", "shapes10"}, {"seed", 1}, {"train", train}, {"test", 40}}},
      {"model", {{"name", "resnet18"}, {"width", 2}}},
      {"recipe",
       {{"epochs", epochs},
        {"batch_size", batch},
        {"optimizer", {{"name", "sgd"}, {"lr", 0.05}, {"momentum", 0.9}, {"nesterov", true}, {"weight_decay", 5e-4}}},
        {"schedule", {{"kind", "multistep"}, {"milestones", {1}}, {"gamma", 0.5}}}}},
      {"audit", {{"num_audit", audit}}},
      {"device", {{"eval_batch", 216}}}};
  return j.dump(2);
}

std::string write_config(const TempDir& t, const std::string& name, const std::string& text) {
  std::string path = t / name;
  sp::test::write_text(path, text);
  return path;
}

sp::test::CommandResult sp_train(const std::string& args) {
  return sp::test::run_command(kTrain + " " + args + " --device cpu");
}

nlohmann::json read_json(const std::string& path) { return nlohmann::json::parse(sp::test::read_text(path)); }

// Every output file below dir. A shadow's .lock (the flock a trainer holds) is not an output: any attempt
// to train a shadow creates it, and it stays empty.
std::vector<std::string> listing(const std::string& dir) {
  std::vector<std::string> v;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.path().filename() != ".lock") v.push_back(fs::relative(e.path(), dir).string());
  std::sort(v.begin(), v.end());
  return v;
}

// Clean-view logits [n, C] of the width-2 ResNet-18 saved at model_path for images ids of `set`.
std::vector<float> predict_saved(const std::string& model_path, const data::Dataset& set, const std::vector<int64_t>& ids) {
  ModelConfig mc;
  mc.width = 2;
  auto model = make_model(mc);
  TrainRecipe rec;
  Trainer tr(*model, rec, Stream::cpu(), 0);
  load_model(model_path, *model, tr.theta(), tr.buffers());
  DeviceData d = DeviceData::upload(set, Stream::cpu());
  return tr.predict(d, Tensor::from_vector(ids, {int64_t(ids.size())})).to_vector<float>();
}

void expect_contains(const std::string& text, const std::string& needle) {
  EXPECT_NE(text.find(needle), std::string::npos) << "expected '" << needle << "' in:\n" << text;
}

}  // namespace

TEST(SpTrain, EndToEndOutputsSkipQueryAllAndLira) {
  REQUIRE_BINARIES();
  TempDir t;
  const std::string cfg = write_config(t, "tiny.json", tiny_config(4, 1, 96, 12, 48)), dir = t / "exp";
  auto r = sp_train(cfg + " --out " + dir);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  expect_contains(r.output, "shadow 3 epoch 1/1");
  expect_contains(r.output, "mean test accuracy");

  // The experiment files and the resolved configuration.
  for (const char* f : {"experiment.json", "config.json", "audit/indices.npy", "audit/labels.npy"})
    EXPECT_TRUE(fs::exists(dir + "/" + f)) << f;
  EXPECT_EQ(read_json(dir + "/config.json")["recipe"]["epochs"], 1);
  Tensor audit_labels = npy::load(dir + "/audit/labels.npy");
  Tensor audit_idx = npy::load(dir + "/audit/indices.npy");

  data::DatasetSplits ds = data::load_dataset("shapes10:seed=1,train=96,test=40");
  for (int k = 0; k < 4; ++k) {
    SCOPED_TRACE("shadow " + std::to_string(k));
    std::string sd = dir + "/shadow/" + std::to_string(k);
    EXPECT_FALSE(fs::exists(sd + "/checkpoint.safetensors")) << "checkpoint left behind";
    npy::Reader lr(sd + "/logits.npy"), sr(sd + "/scores.npy");
    EXPECT_EQ(lr.dtype(), DType::f32);
    EXPECT_EQ(lr.shape(), (std::vector<int64_t>{12, 18, 10}));
    EXPECT_EQ(sr.dtype(), DType::f64);
    EXPECT_EQ(sr.shape(), (std::vector<int64_t>{12, 18}));
    Tensor logits = npy::load(sd + "/logits.npy"), scores = npy::load(sd + "/scores.npy");
    // scores.npy is the LiRA statistic of logits.npy against the audit training labels.
    Tensor phi = lira_stat(Stream::cpu(), logits, audit_labels, lira::Statistic::logit);
    EXPECT_EQ(phi.to_vector<double>(), scores.to_vector<double>());

    nlohmann::json m = read_json(sd + "/metrics.json");
    for (const char* key : {"test_accuracy", "train_accuracy", "images_per_s", "device", "num_audit_in", "seconds",
                            "audit_in_accuracy", "audit_out_accuracy", "train_size", "history"})
      EXPECT_TRUE(m.contains(key)) << key;
    for (const char* phase : {"setup", "train", "evaluate", "query", "write"})
      EXPECT_GE(m["seconds"][phase].get<double>(), 0.0) << phase;
    EXPECT_EQ(m["device"], "cpu");
    EXPECT_EQ(m["epochs"], 1);
    EXPECT_EQ(m["history"].size(), 1u);
    double acc = m["test_accuracy"];
    EXPECT_TRUE(acc >= 0 && acc <= 1) << acc;
    EXPECT_GT(m["images_per_s"].get<double>(), 0.0);
    std::vector<int64_t> keep = npy::Reader(sd + "/keep.npy").read_integers();
    int64_t in = std::count(keep.begin(), keep.end(), 1);
    EXPECT_EQ(m["num_audit_in"], in);
    EXPECT_EQ(m["train_size"], 96 - 12 + in);

    // The model file is a PyTorch state_dict that reproduces the clean-view logits.
    TensorFile mf = load_safetensors(sd + "/model.safetensors");
    EXPECT_EQ(mf.at("conv1.weight").shape(), Shape({2, 3, 3, 3}));
    EXPECT_EQ(mf.at("linear.weight").shape(), Shape({10, 16}));
    EXPECT_EQ(mf.at("bn1.running_var").shape(), Shape({2}));
    EXPECT_EQ(mf.at("layer4.1.bn2.num_batches_tracked").item(), double(m["steps"].get<int64_t>()));
    EXPECT_EQ(mf.metadata.at("model"), "resnet18");
    std::vector<float> zv = predict_saved(sd + "/model.safetensors", ds.train, audit_idx.to_vector<int64_t>()),
                       lv = logits.to_vector<float>();
    for (int64_t j = 0; j < 12; ++j)
      for (int64_t c = 0; c < 10; ++c)
        ASSERT_NEAR(zv[size_t(j * 10 + c)], lv[size_t(j * 180 + c)], 1e-4 * (1 + std::abs(lv[size_t(j * 180 + c)])));
  }

  // A rerun skips every finished shadow and leaves the files as they were.
  std::string before = sp::test::read_text(dir + "/shadow/1/logits.npy");
  auto mtime = fs::last_write_time(dir + "/shadow/1/model.safetensors");
  r = sp_train(cfg + " --out " + dir);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  expect_contains(r.output, "0 trained, 4 already done");
  EXPECT_EQ(sp::test::read_text(dir + "/shadow/1/logits.npy"), before);
  EXPECT_EQ(fs::last_write_time(dir + "/shadow/1/model.safetensors"), mtime);

  // A truncated metrics.json is not a finished shadow: it is moved aside and the shadow trained again, to
  // the same bytes (training is deterministic); the mean accuracy counts only valid records.
  const std::string good_metrics = sp::test::read_text(dir + "/shadow/3/metrics.json");
  sp::test::write_text(dir + "/shadow/3/metrics.json", good_metrics.substr(0, good_metrics.size() / 2));
  const std::string logits3 = sp::test::read_text(dir + "/shadow/3/logits.npy");
  r = sp_train(cfg + " --out " + dir);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  expect_contains(r.output, "is not a finished shadow's record");
  expect_contains(r.output, "1 trained, 3 already done");
  EXPECT_TRUE(fs::exists(dir + "/shadow/3/metrics.json.invalid"));
  EXPECT_EQ(read_json(dir + "/shadow/3/metrics.json")["test_accuracy"],
            nlohmann::json::parse(good_metrics)["test_accuracy"]);
  EXPECT_EQ(sp::test::read_text(dir + "/shadow/3/logits.npy"), logits3);

  // Population queries: the 40 test images (audit.population 1000, capped at the split), 18 views each; the
  // clean view is the saved model's prediction. A directory from before population queries (no population
  // files, no audit.population in config.json) is accepted and its finished shadows get the same bytes from
  // their model files.
  EXPECT_EQ(npy::Reader(dir + "/population/indices.npy").read_integers(), [] {
    std::vector<int64_t> v(40);
    for (int64_t i = 0; i < 40; ++i) v[size_t(i)] = i;
    return v;
  }());
  EXPECT_EQ(npy::Reader(dir + "/population/labels.npy").read_integers(), ds.test.labels.to_vector<int64_t>());
  EXPECT_EQ(read_json(dir + "/config.json")["audit"]["population"], 1000);
  {
    npy::Reader pr(dir + "/shadow/0/population_logits.npy");
    EXPECT_EQ(pr.dtype(), DType::f32);
    EXPECT_EQ(pr.shape(), (std::vector<int64_t>{40, 18, 10}));
    EXPECT_EQ(read_json(dir + "/shadow/0/metrics.json")["population_size"], 40);
    std::vector<int64_t> ids(40);
    for (int64_t i = 0; i < 40; ++i) ids[size_t(i)] = i;
    std::vector<float> zv = predict_saved(dir + "/shadow/0/model.safetensors", ds.test, ids), pv = pr.read_all<float>();
    for (int64_t j = 0; j < 40; ++j)
      for (int64_t c = 0; c < 10; ++c)
        ASSERT_NEAR(zv[size_t(j * 10 + c)], pv[size_t(j * 180 + c)], 1e-4 * (1 + std::abs(pv[size_t(j * 180 + c)])));
  }
  std::string pop_before = sp::test::read_text(dir + "/shadow/1/population_logits.npy");
  fs::remove(dir + "/shadow/1/population_logits.npy");
  fs::remove_all(dir + "/population");
  nlohmann::json old_cfg = read_json(dir + "/config.json");
  old_cfg["audit"].erase("population");
  sp::test::write_text(dir + "/config.json", old_cfg.dump(2));
  r = sp_train(cfg + " --out " + dir);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  expect_contains(r.output, "shadow 1: done before; wrote population_logits.npy");
  EXPECT_EQ(sp::test::read_text(dir + "/shadow/1/population_logits.npy"), pop_before);
  EXPECT_TRUE(fs::exists(dir + "/population/labels.npy"));

  // --query-all on a finished shadow computes logits_all.npy from the saved model; its audit rows are the
  // audit logits.
  r = sp_train(cfg + " --out " + dir + " --shadow 2 --query-all");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  npy::Reader all(dir + "/shadow/2/logits_all.npy");
  EXPECT_EQ(all.shape(), (std::vector<int64_t>{96, 18, 10}));
  std::vector<float> av = all.read_all<float>(), lv = npy::load(dir + "/shadow/2/logits.npy").to_vector<float>();
  std::vector<int64_t> idx = audit_idx.to_vector<int64_t>();
  for (size_t j = 0; j < idx.size(); ++j)
    for (size_t e = 0; e < 180; ++e)
      ASSERT_NEAR(av[size_t(idx[j]) * 180 + e], lv[j * 180 + e], 1e-4 * (1 + std::abs(lv[j * 180 + e])));

  // The pieces connect: sp_lira reads the experiment.
  // (4 models: a held-out fold keeps 1 IN and 2 OUT or 2 IN and 1 OUT, enough for these two attacks)
  auto lira = sp::test::run_command(kLira + " " + dir +
                                    " --attacks online_global_variance,global_threshold --no-plot --threads 1");
  ASSERT_EQ(lira.exit_code, 0) << lira.output;
  nlohmann::json res = read_json(dir + "/lira/results.json");
  EXPECT_EQ(res["n_models"], 4);
  EXPECT_EQ(res["n_samples"], 12);
  EXPECT_EQ(res["n_queries"], 18);
}

namespace {

// tiny_config trained without augmentation (crop_pad 0) and with `flip`; query_views given unless empty.
std::string unaugmented_config(bool flip, const std::string& query_views, int shadows = 2) {
  nlohmann::json j = nlohmann::json::parse(tiny_config(shadows, 1, 96, 12));
  j["recipe"]["augmentation"] = {{"crop_pad", 0}, {"flip", flip}};
  if (!query_views.empty()) j["audit"]["query_views"] = query_views;
  return j.dump(2);
}

// Every row of `sel` [n, a, C] against rows `views` of `all` [n, 18, C].
void expect_view_slices(const std::string& sel, const std::string& all, const std::vector<int64_t>& views) {
  SCOPED_TRACE(sel);
  npy::Reader rs(sel), ra(all);
  ASSERT_EQ(ra.shape().size(), 3u);
  const int64_t n = ra.shape()[0], c = ra.shape()[2], a = int64_t(views.size());
  ASSERT_EQ(ra.shape()[1], 18);
  ASSERT_EQ(rs.shape(), (std::vector<int64_t>{n, a, c}));
  std::vector<float> vs = rs.read_all<float>(), va = ra.read_all<float>();
  for (int64_t i = 0; i < n; ++i)
    for (int64_t k = 0; k < a; ++k)
      for (int64_t j = 0; j < c; ++j) {
        const float want = va[size_t((i * 18 + views[size_t(k)]) * c + j)], got = vs[size_t((i * a + k) * c + j)];
        ASSERT_NEAR(got, want, 1e-5 * (1 + std::abs(want))) << "sample " << i << " view " << views[size_t(k)];
      }
}

}  // namespace

TEST(SpTrain, QueryViewsFollowTheAugmentationAsSlicesOfTheEighteen) {
  REQUIRE_BINARIES();
  TempDir t;
  // The same models (training does not depend on the queries) queried three ways.
  const std::string all = t / "all", clean = t / "clean", flips = t / "flips";
  auto r = sp_train(write_config(t, "all.json", unaugmented_config(false, "all")) + " --out " + all);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string clean_cfg = write_config(t, "clean.json", unaugmented_config(false, ""));
  r = sp_train(clean_cfg + " --out " + clean + " --query-all");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = sp_train(write_config(t, "flips.json", unaugmented_config(true, "")) + " --out " + flips);
  ASSERT_EQ(r.exit_code, 0) << r.output;

  EXPECT_EQ(read_json(all + "/config.json")["audit"]["query_views"], "all");
  EXPECT_EQ(read_json(clean + "/config.json")["audit"]["query_views"], "clean");  // resolved, not left out
  EXPECT_EQ(read_json(flips + "/config.json")["audit"]["query_views"], "flips");
  for (int k = 0; k < 2; ++k) {
    SCOPED_TRACE("shadow " + std::to_string(k));
    const std::string s = "/shadow/" + std::to_string(k) + "/";
    EXPECT_EQ(read_json(clean + s + "metrics.json")["query_views"], "clean");
    EXPECT_EQ(read_json(all + s + "metrics.json")["query_views"], "all");
    EXPECT_EQ(sp::test::read_text(clean + s + "model.safetensors"), sp::test::read_text(all + s + "model.safetensors"));
    expect_view_slices(clean + s + "logits.npy", all + s + "logits.npy", {0});
    expect_view_slices(clean + s + "population_logits.npy", all + s + "population_logits.npy", {0});
    EXPECT_EQ(npy::Reader(clean + s + "logits_all.npy").shape(), (std::vector<int64_t>{96, 1, 10}));
    EXPECT_EQ(npy::Reader(clean + s + "scores.npy").shape(), (std::vector<int64_t>{12, 1}));
    // The flipping recipe trains other models (compared with their own 18 views below).
    EXPECT_EQ(npy::Reader(flips + s + "logits.npy").shape(), (std::vector<int64_t>{12, 2, 10}));
    EXPECT_EQ(npy::Reader(flips + s + "population_logits.npy").shape(), (std::vector<int64_t>{40, 2, 10}));
    // scores.npy is still the statistic of the logits it sits with.
    Tensor phi = lira_stat(Stream::cpu(), npy::load(flips + s + "logits.npy"), npy::load(flips + "/audit/labels.npy"),
                           lira::Statistic::logit);
    EXPECT_EQ(phi.to_vector<double>(), npy::load(flips + s + "scores.npy").to_vector<double>());
  }
  // The flipping recipe's models once more, queried on all 18 views: flips are views 0 and 9.
  const std::string flips_all = t / "flips_all";
  r = sp_train(write_config(t, "flips_all.json", unaugmented_config(true, "all")) + " --out " + flips_all);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (int k = 0; k < 2; ++k) {
    const std::string s = "/shadow/" + std::to_string(k) + "/";
    expect_view_slices(flips + s + "logits.npy", flips_all + s + "logits.npy", {0, 9});
    expect_view_slices(flips + s + "population_logits.npy", flips_all + s + "population_logits.npy", {0, 9});
  }

  // sp_lira names the views the logits hold.
  auto lira = sp::test::run_command(kLira + " " + clean + " --attacks global_threshold --no-plot --threads 1 --bootstrap 0");
  ASSERT_EQ(lira.exit_code, 0) << lira.output;
  expect_contains(lira.output, "2 models x 12 samples x 1 queries");
  expect_contains(lira.output, "query views: audit.query_views = clean (1 per sample: the clean image)");
  nlohmann::json res = read_json(clean + "/lira/results.json");
  EXPECT_EQ(res["n_queries"], 1);
  EXPECT_EQ(res["settings"]["query_views"], "clean");
  lira = sp::test::run_command(kLira + " " + all + " --attacks global_threshold --no-plot --threads 1 --bootstrap 0 --views 0,9");
  ASSERT_EQ(lira.exit_code, 0) << lira.output;
  expect_contains(lira.output, "query views: audit.query_views = all (18 per sample: ");
  expect_contains(lira.output, "; --views uses 2 of them");
  // Logits that do not hold what config.json says are refused, naming both.
  nlohmann::json wrong = read_json(flips + "/config.json");
  wrong["audit"]["query_views"] = "clean";
  sp::test::write_text(flips + "/config.json", wrong.dump(2));
  lira = sp::test::run_command(kLira + " " + flips + " --attacks global_threshold --no-plot --bootstrap 0");
  EXPECT_EQ(lira.exit_code, 1) << lira.output;
  expect_contains(lira.output, "2 query views per sample, but " + flips + "/config.json says audit.query_views 'clean'");
}

TEST(SpTrain, OldDirectoryWithoutQueryViewsKeepsAllEighteen) {
  REQUIRE_BINARIES();
  TempDir t;
  // Shadow 0 queried on all 18 views, then config.json as the code before audit.query_views wrote it.
  const std::string dir = t / "old";
  auto r = sp_train(write_config(t, "all.json", unaugmented_config(false, "all", 4)) + " --out " + dir + " --shadow 0");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  nlohmann::json old_cfg = read_json(dir + "/config.json");
  old_cfg["audit"].erase("query_views");
  sp::test::write_text(dir + "/config.json", old_cfg.dump(2));
  const std::string stored = sp::test::read_text(dir + "/config.json");
  const std::string plain = write_config(t, "plain.json", unaugmented_config(false, "", 4));

  // SLURM jobs get the directory's views written out.
  r = sp_train(plain + " --out " + dir + " --slurm --dry-run");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(read_json(dir + "/slurm/config.json")["audit"]["query_views"], "all");

  // The configuration without the key (whose default would be the clean view) resumes it on all 18 views,
  // as does a worker of sp_audit, which reads DIR/config.json itself.
  r = sp_train(dir + "/config.json --out " + dir + " --shadow 1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = sp_train(plain + " --out " + dir);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  expect_contains(r.output, "2 trained, 2 already done");
  for (int k = 0; k < 4; ++k) {
    const std::string s = dir + "/shadow/" + std::to_string(k) + "/";
    EXPECT_EQ(npy::Reader(s + "logits.npy").shape(), (std::vector<int64_t>{12, 18, 10})) << k;
    EXPECT_EQ(npy::Reader(s + "population_logits.npy").shape(), (std::vector<int64_t>{40, 18, 10})) << k;
  }
  EXPECT_EQ(read_json(dir + "/shadow/1/metrics.json")["query_views"], "all");
  EXPECT_EQ(read_json(dir + "/shadow/3/metrics.json")["query_views"], "all");
  EXPECT_EQ(sp::test::read_text(dir + "/config.json"), stored);  // the directory's record is left as it was
  auto lira = sp::test::run_command(kLira + " " + dir + " --attacks global_threshold --no-plot --bootstrap 0");
  ASSERT_EQ(lira.exit_code, 0) << lira.output;
  expect_contains(lira.output, "query views: audit.query_views = all (18 per sample");

  // Asking for other views is a difference like any other.
  r = sp_train(write_config(t, "clean.json", unaugmented_config(false, "clean", 4)) + " --out " + dir);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  expect_contains(r.output, "audit.query_views: \"all\" -> \"clean\"");
}

TEST(SpTrain, KilledMidEpochResumesToTheSameBytes) {
  REQUIRE_BINARIES();
  TempDir t;
  const std::string cfg = write_config(t, "c.json", tiny_config(2, 3, 96, 12));
  const std::string a = t / "uninterrupted";
  auto r = sp_train(cfg + " --out " + a + " --shadow 0");
  ASSERT_EQ(r.exit_code, 0) << r.output;

  // SIGKILL, and SIGTERM (what a dying sp_audit sends its workers): neither may leave a half-written file.
  for (int sig : {SIGKILL, SIGTERM}) {
    SCOPED_TRACE(sig);
    const std::string b = t / ("killed" + std::to_string(sig));
    // Start the same run (a checkpoint after every epoch), wait for the first epoch checkpoint, then kill it in the middle of epoch 2.
    const std::string ckpt = b + "/shadow/0/checkpoint.safetensors";
    ASSERT_EQ(sp::test::kill_when_file_appears(
                  {kTrain, cfg, "--out", b, "--shadow", "0", "--device", "cpu", "--checkpoint-every", "0"}, ckpt, 120,
                  sig),
              "");
    ASSERT_TRUE(fs::exists(ckpt));
    EXPECT_FALSE(fs::exists(b + "/shadow/0/metrics.json"));
    // Normally 1; 2 only if this process was descheduled for a whole epoch.
    std::string done = load_safetensors(ckpt).metadata.at("epochs_done");
    EXPECT_TRUE(done == "1" || done == "2") << done;

    r = sp_train(cfg + " --out " + b + " --shadow 0");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    expect_contains(r.output, "resuming from its checkpoint after epoch " + done + "/3");
    for (const char* f : {"model.safetensors", "logits.npy", "scores.npy"})
      EXPECT_EQ(sp::test::read_text(b + "/shadow/0/" + f), sp::test::read_text(a + "/shadow/0/" + f)) << f;
    EXPECT_EQ(read_json(b + "/shadow/0/metrics.json")["resumed_from_epoch"], std::stoi(done));
    EXPECT_EQ(listing(a + "/shadow"), listing(b + "/shadow")) << "leftover files";
  }
}

TEST(SpTrain, BadInputEndsWithAMessageAndLeavesOutputsAlone) {
  REQUIRE_BINARIES();
  TempDir t;
  const std::string good = write_config(t, "good.json", tiny_config(2, 1, 96, 8)), dir = t / "exp";

  // A typo in the configuration: every problem listed, nothing created.
  std::string typo = tiny_config(2, 1, 96, 8);
  typo.replace(typo.find("\"momentum\""), 10, "\"momentun\"");
  typo.replace(typo.find("\"epochs\": 1"), 11, "\"epochs\": \"1\"");
  auto r = sp_train(write_config(t, "typo.json", typo) + " --out " + dir);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  expect_contains(r.output, "recipe.optimizer.momentun: unknown key (did you mean 'momentum'?)");
  expect_contains(r.output, "recipe.epochs: expected an integer, got string \"1\"");
  EXPECT_FALSE(fs::exists(dir));

  // Model and dataset disagree on the class count.
  std::string classes = tiny_config(2, 1, 96, 8);
  classes.replace(classes.find("\"width\": 2"), 10, "\"width\": 2, \"num_classes\": 7");
  r = sp_train(write_config(t, "classes.json", classes) + " --out " + dir);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  expect_contains(r.output, "model.num_classes: 7 classes, but dataset shapes10 has 10");

  // Shadow index out of range.
  r = sp_train(good + " --out " + dir + " --shadow 2");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  expect_contains(r.output, "shadow index 2 is out of range: the configuration has num_shadows = 2");
  r = sp_train(good + " --out " + dir + " --shadows 1-5");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_FALSE(fs::exists(dir));

  // An output path that cannot be a directory.
  sp::test::write_text(t / "afile", "x");
  r = sp_train(good + " --out " + (t / "afile"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  expect_contains(r.output, "exists and is not a directory");
  r = sp_train(good + " --out " + (t / "afile/sub"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  expect_contains(r.output, "sp_train: error:");

  // A finished shadow 0, then a full disk (a file-size limit) while training shadow 1: a clear error, no
  // partial or temporary file, shadow 0 untouched.
  r = sp_train(good + " --out " + dir + " --shadow 0");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::vector<std::string> before = listing(dir);
  std::string model0 = sp::test::read_text(dir + "/shadow/0/model.safetensors");
  r = sp::test::run_command("ulimit -f 32 && " + kTrain + " " + good + " --out " + dir + " --device cpu");
  EXPECT_NE(r.exit_code, 0) << r.output;
  expect_contains(r.output, "sp_train: error:");
  expect_contains(r.output, dir + "/shadow/1/");
  EXPECT_EQ(listing(dir), before);
  EXPECT_EQ(sp::test::read_text(dir + "/shadow/0/model.safetensors"), model0);

  // The directory holds another configuration: refused with the differences, nothing changed.
  std::string other = tiny_config(2, 1, 96, 8);
  other.replace(other.find("\"lr\": 0.05"), 10, "\"lr\": 0.1");
  other.replace(other.find("\"epochs\": 1"), 11, "\"epochs\": 2");
  r = sp_train(write_config(t, "other.json", other) + " --out " + dir);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  expect_contains(r.output, "different configuration (2 differences");
  expect_contains(r.output, "recipe.epochs: 1 -> 2");
  expect_contains(r.output, "recipe.optimizer.lr: 0.05 -> 0.1");
  EXPECT_EQ(listing(dir), before);
}

TEST(SpTrain, ConcurrentTasksOnOneDirectoryAgree) {
  REQUIRE_BINARIES();
  TempDir t;
  nlohmann::json wide = nlohmann::json::parse(tiny_config(4, 1, 96, 12, 48));
  wide["model"]["width"] = 4;  // the same experiment.json, another config.json
  const std::string narrow = write_config(t, "narrow.json", tiny_config(4, 1, 96, 12, 48)),
                    other = write_config(t, "wide.json", wide.dump(2)), dir = t / "exp";
  auto task = [&](const std::string& cfg, int k) {
    return std::vector<std::string>{kTrain, cfg, "--out", dir, "--shadow", std::to_string(k), "--device", "cpu"};
  };
  std::vector<std::vector<std::string>> tasks = {task(narrow, 0), task(other, 1), task(narrow, 2)};
  std::vector<int> codes = sp::test::run_concurrently(tasks);
  int width = read_json(dir + "/config.json")["model"]["width"];
  ASSERT_TRUE(width == 2 || width == 4) << width;
  const std::string winner = width == 2 ? narrow : other;
  for (size_t i = 0; i < tasks.size(); ++i) {
    bool won = tasks[i][1] == winner;
    EXPECT_EQ(codes[i], won ? 0 : 1) << "task " << i;
    EXPECT_EQ(fs::exists(dir + "/shadow/" + tasks[i][5] + "/metrics.json"), won) << "task " << i;
  }
}

TEST(SpTrain, SlurmDryRunWritesTheArrayScript) {
  REQUIRE_BINARIES();
  TempDir t;
  const std::string cfg = write_config(t, "tiny.json", tiny_config(4, 1, 96, 12, 48)), dir = t / "exp";
  auto r = sp_train(cfg + " --out " + dir + " --shadows 1-3 --slurm --dry-run --partition debug --gres gpu:1 --array-limit 2");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  expect_contains(r.output, "jid=$(sbatch --parsable " + dir + "/slurm/train_array.sbatch)");
  std::string script = sp::test::read_text(dir + "/slurm/train_array.sbatch");
  expect_contains(script, "#SBATCH --array=1-3%2\n");
  expect_contains(script, "#SBATCH --partition=debug\n");
  expect_contains(script, " --shadow \"$SLURM_ARRAY_TASK_ID\" --device cpu\n");  // the options reach the tasks
  EXPECT_FALSE(fs::exists(dir + "/slurm/report.sbatch"));  // sp_train submits no report job
  EXPECT_TRUE(fs::exists(dir + "/experiment.json"));

  r = sp_train(cfg + " --out " + dir + " --partition debug");  // SLURM options need --slurm
  EXPECT_NE(r.exit_code, 0) << r.output;
  expect_contains(r.output, "--slurm");
  r = sp_train(cfg + " --out " + dir + " --slurm --dry-run --partition 'a;b'");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  expect_contains(r.output, "slurm option --partition: 'a;b'");
}

TEST(SpTrain, BenchPrintsATable) {
  REQUIRE_BINARIES();
  TempDir t;
  // The model and the query batch come from the configuration (36 images: 2 samples x 18 views).
  std::string cfg = tiny_config(2, 1, 96, 12, 8);
  cfg.replace(cfg.find("\"eval_batch\": 216"), 17, "\"eval_batch\": 36");
  auto r = sp::test::run_command(kTrain + " " + write_config(t, "c.json", cfg) +
                                 " --bench --device cpu --bench-batch 16,8 --bench-steps 1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  expect_contains(r.output, "resnet18 width 2");
  expect_contains(r.output, "query (18 views)         36");
  expect_contains(r.output, "img/s");
  expect_contains(r.output, "query (18 views)");
  EXPECT_NE(r.output.find("train                    16"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("train                     8"), std::string::npos) << r.output;
}

TEST(SpTrain, CudaGraphsOnTheCpuAreAnError) {
  REQUIRE_BINARIES();
  TempDir t;
  const std::string cfg = write_config(t, "c.json", tiny_config(2, 1, 96, 8));
  auto r = sp::test::run_command(kTrain + " " + cfg + " --bench --device cpu --bench-batch 8 --bench-steps 1 "
                                 "--cuda-graphs on");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  expect_contains(r.output, "device.cuda_graphs is on, but training runs on cpu");
  r = sp::test::run_command(kTrain + " " + cfg + " --bench --device cpu --bench-batch 8 --bench-steps 1 "
                            "--cuda-graphs auto");
  EXPECT_EQ(r.exit_code, 0) << r.output;  // auto: graphs only on a GPU
  r = sp::test::run_command(kTrain + " " + cfg + " --bench --device cpu --cuda-graphs sometimes");
  EXPECT_NE(r.exit_code, 0) << r.output;
  expect_contains(r.output, "--cuda-graphs");
}

TEST(ModelFile, RoundTripWithPyTorchNames) {
  TempDir t;
  ModelConfig mc;
  mc.width = 2;
  auto m = make_model(mc);
  Tensor theta = Tensor::empty({m->params().numel()}, DType::f32), buf = Tensor::empty({m->buffers().numel()}, DType::f32);
  m->init(Stream::cpu(), theta, buf, 7);
  buf.copy_(test::randn({buf.numel()}, DType::f32, 3));
  save_model(t / "m.safetensors", *m, theta, buf, 42, {{"note", "x"}});
  TensorFile f = load_safetensors(t / "m.safetensors");
  EXPECT_EQ(f.metadata.at("note"), "x");
  EXPECT_EQ(f.metadata.at("width"), "2");
  int bn = 0;
  for (const auto& [name, v] : f.tensors)
    if (name.find("num_batches_tracked") != std::string::npos) {
      ++bn;
      EXPECT_EQ(v.dtype(), DType::i64);
      EXPECT_EQ(v.item(), 42.0);
    }
  EXPECT_EQ(bn, 20);  // bn1 + 8 blocks x 2 + 3 shortcut BNs
  EXPECT_EQ(f.tensors.size(), size_t(m->params().size() + m->buffers().size() + bn));
  Tensor t2 = Tensor::zeros({theta.numel()}, DType::f32), b2 = Tensor::zeros({buf.numel()}, DType::f32);
  load_model(t / "m.safetensors", *m, t2, b2);
  EXPECT_EQ(t2.to_vector<float>(), theta.to_vector<float>());
  EXPECT_EQ(b2.to_vector<float>(), buf.to_vector<float>());
  // Another architecture does not load.
  mc.width = 4;
  auto other = make_model(mc);
  Tensor t3 = Tensor::zeros({other->params().numel()}, DType::f32), b3 = Tensor::zeros({other->buffers().numel()}, DType::f32);
  EXPECT_THROW(load_model(t / "m.safetensors", *other, t3, b3), Error);
  // A tensor the model does not have (strict, as PyTorch's load_state_dict): refused, naming it.
  std::map<std::string, Tensor> extra = f.tensors;
  extra.emplace("fc.extra_weight", Tensor::from_vector<float>({1, 2}, {2}));
  save_safetensors(t / "extra.safetensors", extra, f.metadata);
  try {
    load_model(t / "extra.safetensors", *m, t2, b2);
    ADD_FAILURE() << "a file with an extra tensor loaded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("tensor 'fc.extra_weight' is not a parameter or buffer"), std::string::npos)
        << e.what();
  }
}

TEST(TrainState, RoundTripAndMismatches) {
  TempDir t;
  ModelConfig mc;
  mc.width = 2;
  auto m = make_model(mc);
  TrainRecipe r;
  r.epochs = 3;
  r.optim.momentum = 0.9;
  Trainer a(*m, r, Stream::cpu(), 1);
  a.optimizer().step(Stream::cpu(), a.theta(), test::randn({a.theta().numel()}, DType::f32, 5), 0.1);
  TrainState st;
  st.epochs_done = 1;
  st.history.push_back({0, 2.5, 0.25, 1.5, 100.0});
  save_train_state(t / "c.safetensors", a, st, "shadow 0", Stream::cpu());

  Trainer b(*m, r, Stream::cpu(), 2);
  TrainState got = load_train_state(t / "c.safetensors", b, "shadow 0", Stream::cpu());
  EXPECT_EQ(got.epochs_done, 1);
  ASSERT_EQ(got.history.size(), 1u);
  EXPECT_EQ(got.history[0].loss, 2.5);
  EXPECT_EQ(b.theta().to_vector<float>(), a.theta().to_vector<float>());
  EXPECT_EQ(b.buffers().to_vector<float>(), a.buffers().to_vector<float>());
  EXPECT_EQ(b.optimizer().steps(), 1);
  EXPECT_THROW(load_train_state(t / "c.safetensors", b, "shadow 1", Stream::cpu()), Error);
  mc.width = 4;
  auto big = make_model(mc);
  Trainer c(*big, r, Stream::cpu(), 1);
  EXPECT_THROW(load_train_state(t / "c.safetensors", c, "shadow 0", Stream::cpu()), Error);
}

TEST(Progress, Formatting) {
  EXPECT_EQ(format_duration(45.2), "45s");
  EXPECT_EQ(format_duration(185), "3m05s");
  EXPECT_EQ(format_duration(3720), "1h02m");
  EXPECT_EQ(format_duration(-1), "?");
  EXPECT_EQ(format_rate(850.4), "850");
  EXPECT_EQ(format_rate(12345), "12.3k");
  EXPECT_EQ(format_rate(2.5e6), "2.50M");
}
