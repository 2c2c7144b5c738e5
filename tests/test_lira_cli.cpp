// End to end: build/bin/sp_lira on small generated experiment directories (both layouts): exit codes,
// the results.json schema, the output files and their consistency with the library (scores, AUC), groups,
// presets, attack selection, and every bad input of issue 5 ending with a non-zero exit and a message
// naming the file and index.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "attacks/lira_synth.h"
#include "attacks/one_run_audit.h"
#include "attacks/roc.h"
#include "data/npy.h"
#include "plot/write_figure.h"
#include "tests/lira_test_util.h"

using namespace sp;
using namespace sp::lira;
using sp::test::TempDir;
namespace fs = std::filesystem;

namespace {

const std::string kBinary = std::string(SP_BINARY_DIR) + "/bin/sp_lira";

// Skips the test when the executable has not been built (e.g. only sp_tests was built).
#define REQUIRE_BINARY()                                                                    \
  do {                                                                                      \
    if (!fs::exists(kBinary)) GTEST_SKIP() << kBinary << " not built (build all targets)"; \
  } while (0)

SynthOptions small(Layout layout = Layout::synpriv) {
  SynthOptions o;
  o.S = 6;
  o.M = 300;
  o.A = 2;
  o.C = 4;
  o.gain = 1.5;
  o.seed = 3;
  o.threads = 1;
  o.layout = layout;
  return o;
}

sp::test::CommandResult run_lira_cli(const std::string& args) { return sp::test::run_command(kBinary + " " + args); }

nlohmann::json read_json(const std::string& path) { return nlohmann::json::parse(sp::test::read_text(path)); }

void expect_fails(const std::string& args, const std::vector<std::string>& needles) {
  auto r = run_lira_cli(args);
  EXPECT_NE(r.exit_code, 0) << "sp_lira " << args << " succeeded:\n" << r.output;
  for (const std::string& n : needles) EXPECT_NE(r.output.find(n), std::string::npos) << "missing '" << n << "' in:\n" << r.output;
}

}  // namespace

TEST(LiraCli, WritesEveryOutputWithTheSchema) {
  REQUIRE_BINARY();
  TempDir t;
  const std::string dir = t / "exp";
  write_synthetic_experiment(dir, small());
  std::vector<int32_t> groups(300);
  for (size_t i = 0; i < groups.size(); ++i) groups[i] = int32_t(i % 3 == 0);
  npy::write(t / "groups.npy", std::vector<int64_t>{300}, groups);
  auto r = run_lira_cli(dir + " --bootstrap 40 --groups " + (t / "groups.npy"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("online_global_variance"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("group 1:"), std::string::npos) << r.output;

  nlohmann::json j = read_json(dir + "/lira/results.json");
  std::vector<std::string> keys;
  for (auto it = j.begin(); it != j.end(); ++it) keys.push_back(it.key());
  // nlohmann::json orders keys alphabetically; the file's own order is checked below.
  EXPECT_EQ(keys, (std::vector<std::string>{"attacks", "groups", "n_models", "n_queries", "n_samples", "rmia", "settings"}));
  std::string text = sp::test::read_text(dir + "/lira/results.json");
  EXPECT_LT(text.find("\"n_models\""), text.find("\"n_samples\""));
  EXPECT_LT(text.find("\"n_queries\""), text.find("\"attacks\""));
  EXPECT_EQ(j["n_models"], 6);
  EXPECT_EQ(j["n_samples"], 300);
  EXPECT_EQ(j["n_queries"], 2);
  for (const char* name : {"online", "online_global_variance", "offline", "global_threshold"}) {
    SCOPED_TRACE(name);
    const auto& a = j["attacks"][name];
    ASSERT_TRUE(a.is_object());
    EXPECT_TRUE(a["auc"].is_number());
    EXPECT_TRUE(a["balanced_accuracy"].is_number());
    ASSERT_EQ(a["tpr_at_fpr"].size(), 5u);
    const double levels[] = {1e-5, 1e-4, 1e-3, 1e-2, 1e-1};
    for (size_t k = 0; k < 5; ++k) {
      EXPECT_EQ(a["tpr_at_fpr"][k]["fpr"].get<double>(), levels[k]);
      EXPECT_TRUE(a["tpr_at_fpr"][k]["tpr"].is_number());
    }
    EXPECT_GE(a["epsilon_lower_bound"].get<double>(), 0.0);
    EXPECT_EQ(a["n_members"].get<int64_t>() + a["n_nonmembers"].get<int64_t>(), 6 * 300);
    EXPECT_EQ(a["bootstrap"]["replicates"], 40);
    EXPECT_EQ(a["bootstrap"]["tpr_ci95"].size(), 2u);
    EXPECT_TRUE(j["groups"]["0"][name].is_object());
    EXPECT_TRUE(j["groups"]["1"][name].is_object());
    EXPECT_EQ(j["groups"]["1"][name]["n_members"].get<int64_t>() + j["groups"]["1"][name]["n_nonmembers"].get<int64_t>(),
              6 * 100);
    EXPECT_TRUE(fs::exists(dir + "/lira/roc_" + std::string(name) + ".csv"));
    EXPECT_EQ(sp::test::read_text(dir + "/lira/roc_" + std::string(name) + ".csv").substr(0, 25), "threshold,fpr,tpr,fp,tp\ni");
  }
  EXPECT_EQ(j["settings"]["fit"], "mean");
  EXPECT_EQ(j["settings"]["std"], "sample");
  EXPECT_EQ(j["settings"]["models"].size(), 6u);
  EXPECT_EQ(fs::exists(dir + "/lira/roc.png"), sp::plot::plots_available());
  EXPECT_EQ(fs::exists(dir + "/lira/roc.svg"), sp::plot::plots_available());

  // scores_<attack>.npy is float64 [S, M], and the reported AUC is the AUC of those scores.
  npy::Reader sr(dir + "/lira/scores_online.npy");
  EXPECT_EQ(sr.dtype(), DType::f64);
  EXPECT_EQ(sr.shape(), (std::vector<int64_t>{6, 300}));
  std::vector<double> s = sr.read_all<double>();
  std::vector<uint8_t> member(s.size());
  for (int64_t m = 0; m < 6; ++m) {
    std::vector<int64_t> k = npy::Reader(dir + "/shadow/" + std::to_string(m) + "/keep.npy").read_integers();
    for (int64_t i = 0; i < 300; ++i) member[size_t(m * 300 + i)] = uint8_t(k[size_t(i)]);
  }
  EXPECT_DOUBLE_EQ(roc_auc(roc_curve(s, member)), j["attacks"]["online"]["auc"].get<double>());
  // The signal is real: LiRA beats chance on this data.
  EXPECT_GT(j["attacks"]["online_global_variance"]["auc"].get<double>(), 0.6);
}

TEST(LiraCli, SelectionPresetsAndOutDir) {
  REQUIRE_BINARY();
  TempDir t;
  const std::string dir = t / "exp";
  write_synthetic_experiment(dir, small());
  auto r = run_lira_cli(dir + " --attacks online,global_threshold --no-plot --bootstrap 0 --quiet --out " + (t / "out"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(r.output.empty()) << r.output;
  nlohmann::json j = read_json(t / "out/results.json");
  EXPECT_EQ(j["attacks"].size(), 2u);
  EXPECT_FALSE(j["attacks"]["online"].contains("bootstrap"));
  EXPECT_FALSE(j.contains("groups"));
  EXPECT_FALSE(fs::exists(t / "out/roc.png"));
  // Groups given per (model, sample): [S, M]; values are any integers.
  std::vector<int64_t> g(6 * 300);
  for (size_t k = 0; k < g.size(); ++k) g[k] = k < 300 ? -1 : 7;
  npy::write(t / "g2.npy", std::vector<int64_t>{6, 300}, g);
  ASSERT_EQ(run_lira_cli(dir + " --bootstrap 0 --quiet --groups " + (t / "g2.npy")).exit_code, 0);
  j = read_json(dir + "/lira/results.json");
  EXPECT_EQ(j["groups"]["-1"]["online"]["n_members"].get<int64_t>() + j["groups"]["-1"]["online"]["n_nonmembers"].get<int64_t>(), 300);
  EXPECT_EQ(j["groups"]["7"]["offline"]["n_members"].get<int64_t>() + j["groups"]["7"]["offline"]["n_nonmembers"].get<int64_t>(), 1500);
  EXPECT_FALSE(fs::exists(t / "out/scores_offline.npy"));
  EXPECT_TRUE(fs::exists(t / "out/scores_global_threshold.npy"));

  ASSERT_EQ(run_lira_cli(dir + " --preset carlini --bootstrap 0 --quiet").exit_code, 0);
  j = read_json(dir + "/lira/results.json");
  EXPECT_EQ(j["settings"]["fit"], "median");
  EXPECT_EQ(j["settings"]["std"], "population");
  EXPECT_EQ(j["settings"]["offline_score"], "pdf");
  ASSERT_EQ(run_lira_cli(dir + " --preset carlini --fit mean --statistic hinge --bootstrap 0 --quiet").exit_code, 0);
  j = read_json(dir + "/lira/results.json");
  EXPECT_EQ(j["settings"]["fit"], "mean");
  EXPECT_EQ(j["settings"]["std"], "population");
  EXPECT_EQ(j["settings"]["statistic"], "hinge");
}

// --models attacks a subset of the shadow models (sp_audit: the finished ones): the result equals an
// experiment that holds only those models, and [S, M] groups follow the selected rows.
TEST(LiraCli, ModelSubsetEqualsAnExperimentOfThoseModels) {
  REQUIRE_BINARY();
  TempDir t;
  const std::string dir = t / "exp", sub = t / "sub";
  write_synthetic_experiment(dir, small());
  fs::create_directories(sub + "/shadow");
  fs::copy(dir + "/audit", sub + "/audit", fs::copy_options::recursive);
  const int keep[] = {0, 2, 3, 5};
  for (int j = 0; j < 4; ++j)
    fs::copy(dir + "/shadow/" + std::to_string(keep[j]), sub + "/shadow/" + std::to_string(j), fs::copy_options::recursive);
  std::vector<int64_t> g(6 * 300), gsub;
  for (size_t k = 0; k < g.size(); ++k) g[k] = int64_t((k / 300) % 2 + 2 * (k % 5 == 0));
  for (int m : keep) gsub.insert(gsub.end(), g.begin() + m * 300, g.begin() + (m + 1) * 300);
  npy::write(t / "g.npy", std::vector<int64_t>{6, 300}, g);
  npy::write(t / "gsub.npy", std::vector<int64_t>{4, 300}, gsub);
  // Four models leave too few per leave-one-out fold for the per-sample Gaussian fits: the global threshold.
  const std::string opts = " --attacks global_threshold --bootstrap 0 --quiet --no-plot --groups ";
  ASSERT_EQ(run_lira_cli(dir + " --models 0,2,3,5" + opts + (t / "g.npy")).exit_code, 0);
  ASSERT_EQ(run_lira_cli(sub + opts + (t / "gsub.npy")).exit_code, 0);
  nlohmann::json a = read_json(dir + "/lira/results.json"), b = read_json(sub + "/lira/results.json");
  EXPECT_EQ(a["n_models"], 4);
  EXPECT_EQ(a["attacks"], b["attacks"]);
  EXPECT_EQ(a["groups"], b["groups"]);
  expect_fails(dir + " --models 0,9", {"model 9", "6 model directories"});
  expect_fails(dir + " --models 3,1", {"ascending"});
}

TEST(LiraCli, TfPrivacyLayout) {
  REQUIRE_BINARY();
  TempDir t;
  write_synthetic_experiment(t / "tf", small(Layout::tf_privacy));
  auto r = run_lira_cli((t / "tf") + " --layout tf-privacy --bootstrap 0");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  nlohmann::json j = read_json(t / "tf/lira/results.json");
  EXPECT_EQ(j["n_models"], 6);
  EXPECT_EQ(j["n_samples"], 300);
  EXPECT_EQ(j["settings"]["layout"], "tf-privacy");
  // The same experiment in the synpriv layout gives the same numbers.
  write_synthetic_experiment(t / "sp", small());
  ASSERT_EQ(run_lira_cli((t / "sp") + " --bootstrap 0 --quiet").exit_code, 0);
  nlohmann::json k = read_json(t / "sp/lira/results.json");
  EXPECT_EQ(j["attacks"], k["attacks"]);
}

TEST(LiraCli, BadInputsFailWithTheFileAndIndex) {
  REQUIRE_BINARY();
  TempDir t;
  const std::string dir = t / "exp";
  write_synthetic_experiment(dir, small());
  expect_fails((t / "nowhere"), {"nowhere", "missing directory"});
  expect_fails(dir + " --fit mode", {"--fit"});
  expect_fails(dir + " --attacks online,bogus", {"unknown attack 'bogus'"});
  expect_fails(dir + " --delta 2", {"--delta"});
  npy::write(t / "g.npy", std::vector<int64_t>{7}, std::vector<int32_t>(7, 0));
  expect_fails(dir + " --groups " + (t / "g.npy"), {"g.npy", "shape"});

  // Labels out of range.
  std::vector<int64_t> labels = npy::Reader(dir + "/audit/labels.npy").read_integers();
  std::vector<int64_t> bad = labels;
  bad[17] = 4;
  npy::write(dir + "/audit/labels.npy", std::vector<int64_t>{300}, bad);
  expect_fails(dir, {"audit/labels.npy", "label 4 at index 17"});
  npy::write(dir + "/audit/labels.npy", std::vector<int64_t>{300}, labels);

  // A sample that is IN for too few of the other models.
  std::vector<std::vector<int64_t>> keep;
  for (int m = 0; m < 6; ++m) keep.push_back(npy::Reader(dir + "/shadow/" + std::to_string(m) + "/keep.npy").read_integers());
  for (int m = 0; m < 6; ++m) {
    std::vector<uint8_t> k(keep[size_t(m)].begin(), keep[size_t(m)].end());
    k[42] = m == 0;
    npy::write_bool(dir + "/shadow/" + std::to_string(m) + "/keep.npy", std::vector<int64_t>{300}, k);
  }
  expect_fails(dir, {"sample 42", "IN for 0"});
  auto only_global = run_lira_cli(dir + " --attacks global_threshold --bootstrap 0 --quiet");
  EXPECT_EQ(only_global.exit_code, 0) << only_global.output;
  for (int m = 0; m < 6; ++m) {
    std::vector<uint8_t> k(keep[size_t(m)].begin(), keep[size_t(m)].end());
    npy::write_bool(dir + "/shadow/" + std::to_string(m) + "/keep.npy", std::vector<int64_t>{300}, k);
  }

  // A NaN logit: an error by default, a dropped and counted pair with --nan-policy drop.
  const std::string lp = dir + "/shadow/4/logits.npy";
  std::vector<float> logits = npy::Reader(lp).read_all<float>();
  std::vector<float> nan_logits = logits;
  nan_logits[size_t((123 * 2 + 1) * 4 + 2)] = std::nanf("");
  npy::write(lp, std::vector<int64_t>{300, 2, 4}, nan_logits);
  expect_fails(dir, {"shadow/4/logits.npy", "sample 123, query 1, class 2"});
  auto dropped = run_lira_cli(dir + " --nan-policy drop --bootstrap 0");
  ASSERT_EQ(dropped.exit_code, 0) << dropped.output;
  EXPECT_NE(dropped.output.find("dropped 1 (model, sample) pairs"), std::string::npos) << dropped.output;
  nlohmann::json j = read_json(dir + "/lira/results.json");
  EXPECT_EQ(j["settings"]["dropped_pairs"], 1);
  // With S = 6 the dropped model leaves some folds of sample 123 with one OUT model: those are unscored.
  const int64_t unscored = j["settings"]["unscored_pairs"].get<int64_t>();
  EXPECT_GT(unscored, 0);
  EXPECT_NE(dropped.output.find("further pairs unscored"), std::string::npos) << dropped.output;
  EXPECT_EQ(j["attacks"]["online"]["n_members"].get<int64_t>() + j["attacks"]["online"]["n_nonmembers"].get<int64_t>(),
            6 * 300 - 1 - unscored);
  npy::write(lp, std::vector<int64_t>{300, 2, 4}, logits);

  // Model directories: an extra one, then a missing one.
  fs::create_directories(dir + "/shadow/notes");
  expect_fails(dir, {"shadow/notes", "unexpected entry"});
  fs::remove_all(dir + "/shadow/notes");
  fs::rename(dir + "/shadow/5", t / "moved");
  fs::rename(dir + "/shadow/3", dir + "/shadow/5");
  expect_fails(dir, {"shadow/3", "missing model directory"});
  fs::rename(dir + "/shadow/5", dir + "/shadow/3");
  fs::rename(t / "moved", dir + "/shadow/5");

  // keep/logits length mismatch, and different A between models.
  npy::write_bool(dir + "/shadow/2/keep.npy", std::vector<int64_t>{299}, std::vector<uint8_t>(299, 0));
  expect_fails(dir, {"shadow/2/keep.npy", "299 entries"});
  npy::write_bool(dir + "/shadow/2/keep.npy", std::vector<int64_t>{300},
                  std::vector<uint8_t>(keep[2].begin(), keep[2].end()));
  npy::write(dir + "/shadow/1/logits.npy", std::vector<int64_t>{300, 3, 4}, std::vector<float>(3600, 0.f));
  expect_fails(dir, {"shadow/1/logits.npy", "A = 3"});
}

TEST(LiraCli, OneRunEpsilonPerModelMatchesTheLibrary) {
  REQUIRE_BINARY();
  TempDir t;
  const std::string dir = t / "exp";
  SynthOptions o = small();
  o.gain = 3;
  write_synthetic_experiment(dir, o);
  auto r = run_lira_cli(dir + " --no-plot --bootstrap 0 --one-run-confidence 0.9 --delta 1e-6");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("one-run epsilon lower bound per model (90% confidence"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("rmia not run: no population queries"), std::string::npos) << r.output;
  nlohmann::json res = read_json(dir + "/lira/results.json");
  EXPECT_EQ(res["rmia"]["not_run"], "no population queries (population/labels.npy)");
  // Valid lower bounds: the global threshold always, the reference-based attacks with equalized folds only.
  EXPECT_EQ(res["attacks"]["global_threshold"]["one_run"]["valid"], true);
  EXPECT_EQ(res["attacks"]["online"]["one_run"]["valid"], false);
  EXPECT_NE(res["attacks"]["online"]["one_run"]["caveat"].get<std::string>().find("--equalize-folds"), std::string::npos);
  EXPECT_NE(r.output.find("* not a valid lower bound"), std::string::npos) << r.output;
  auto eq = run_lira_cli(dir + " --no-plot --bootstrap 0 --equalize-folds --out " + (t / "eq"));
  ASSERT_EQ(eq.exit_code, 0) << eq.output;
  EXPECT_EQ(read_json(t / "eq/results.json")["attacks"]["online"]["one_run"]["valid"], true);
  for (const char* attack : {"online", "global_threshold"}) {
    SCOPED_TRACE(attack);
    const nlohmann::json& j = res["attacks"][attack]["one_run"];
    ASSERT_EQ(j["per_model"].size(), size_t(o.S));
    EXPECT_DOUBLE_EQ(j["confidence"].get<double>(), 0.9);
    EXPECT_DOUBLE_EQ(j["delta"].get<double>(), 1e-6);
    std::vector<double> scores = npy::Reader(dir + "/lira/scores_" + std::string(attack) + ".npy").read_all<double>();
    std::vector<double> eps;
    for (int64_t s = 0; s < o.S; ++s) {
      std::vector<int64_t> keep = npy::Reader(dir + "/shadow/" + std::to_string(s) + "/keep.npy").read_integers();
      std::vector<uint8_t> member(keep.begin(), keep.end());
      OneRunOptions oro;
      oro.confidence = 0.9;
      oro.delta = 1e-6;
      OneRunResult want = one_run_audit(std::span<const double>(scores.data() + s * o.M, size_t(o.M)), member, oro);
      const nlohmann::json& got = j["per_model"][size_t(s)];
      EXPECT_DOUBLE_EQ(got["epsilon"].get<double>(), want.epsilon);
      EXPECT_EQ(got["guesses"], want.best.r);
      EXPECT_EQ(got["correct"], want.best.v);
      EXPECT_EQ(got["m"], o.M);
      eps.push_back(want.epsilon);
    }
    std::sort(eps.begin(), eps.end());
    EXPECT_DOUBLE_EQ(j["median"].get<double>(), (eps[2] + eps[3]) / 2);
    EXPECT_DOUBLE_EQ(j["max"].get<double>(), eps.back());
    EXPECT_GT(eps.back(), 0.5) << "a strong synthetic signal should give a positive one-run bound";
  }
}
