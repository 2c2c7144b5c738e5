// RMIA (attacks/rmia.h): scores against the independent NumPy implementation tests/python/rmia_reference.py on
// generated experiment directories (fixed a, calibrated a, equalized folds, a temperature), no signal -> AUC
// near 0.5, a strong signal -> high AUC, NaN handling, and the bad inputs: a missing population, too few
// population samples, population logits that do not match the audit logits.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <random>

#include "attacks/lira_run.h"
#include "attacks/lira_synth.h"
#include "attacks/rmia.h"
#include "attacks/roc.h"
#include "data/npy.h"
#include "tests/lira_test_util.h"
#include "tests/python_util.h"

using namespace sp;
using namespace sp::lira;
using sp::test::TempDir;
namespace fs = std::filesystem;

namespace {

struct Spec {
  int64_t S = 6, M = 40, P = 30, A = 3, C = 4;
  double signal = 1.5;  // added to the label logit of a member
  uint64_t seed = 1;
};

// A synpriv directory: each sample IN for exactly half of the models, Gaussian logits per (model, sample,
// view) around a per-sample difficulty, members' label logit raised by `signal`.
void write_experiment(const std::string& dir, const Spec& sp) {
  std::mt19937_64 rng(sp.seed);
  std::normal_distribution<double> n01;
  std::vector<int64_t> labels(size_t(sp.M)), plabels(size_t(sp.P));
  for (auto& y : labels) y = int64_t(rng() % uint64_t(sp.C));
  for (auto& y : plabels) y = int64_t(rng() % uint64_t(sp.C));
  std::vector<std::vector<uint8_t>> keep(size_t(sp.S), std::vector<uint8_t>(size_t(sp.M), 0));
  for (int64_t i = 0; i < sp.M; ++i) {
    std::vector<int64_t> order(size_t(sp.S));
    for (int64_t s = 0; s < sp.S; ++s) order[size_t(s)] = s;
    std::shuffle(order.begin(), order.end(), rng);
    for (int64_t k = 0; k < sp.S / 2; ++k) keep[size_t(order[size_t(k)])][size_t(i)] = 1;
  }
  std::vector<double> hard(size_t(sp.M)), phard(size_t(sp.P));
  for (auto& h : hard) h = n01(rng);
  for (auto& h : phard) h = n01(rng);
  fs::create_directories(dir + "/audit");
  fs::create_directories(dir + "/population");
  npy::write(dir + "/audit/labels.npy", std::vector<int64_t>{sp.M}, labels);
  npy::write(dir + "/population/labels.npy", std::vector<int64_t>{sp.P}, plabels);
  for (int64_t s = 0; s < sp.S; ++s) {
    const std::string sd = dir + "/shadow/" + std::to_string(s);
    fs::create_directories(sd);
    npy::write_bool(sd + "/keep.npy", std::vector<int64_t>{sp.M}, keep[size_t(s)]);
    auto logits = [&](int64_t n, const std::vector<int64_t>& y, const std::vector<double>& h, const uint8_t* in) {
      std::vector<float> z(size_t(n * sp.A * sp.C));
      for (int64_t i = 0; i < n; ++i)
        for (int64_t a = 0; a < sp.A; ++a)
          for (int64_t c = 0; c < sp.C; ++c) {
            double v = n01(rng);
            if (c == y[size_t(i)]) v += 1 + h[size_t(i)] + (in && in[i] ? sp.signal : 0.0);
            z[size_t((i * sp.A + a) * sp.C + c)] = float(v);
          }
      return z;
    };
    npy::write(sd + "/logits.npy", std::vector<int64_t>{sp.M, sp.A, sp.C}, logits(sp.M, labels, hard, keep[size_t(s)].data()));
    npy::write(sd + "/population_logits.npy", std::vector<int64_t>{sp.P, sp.A, sp.C}, logits(sp.P, plabels, phard, nullptr));
  }
}

// sp_lira's defaults (every attack, RMIA when possible) without the slow parts.
LiraConfig plain_config(const std::string& dir) {
  LiraConfig c;
  c.dir = dir;
  c.bootstrap = 0;
  c.plot = false;
  return c;
}

LiraConfig rmia_config(const std::string& dir, const std::string& out) {
  LiraConfig c;
  c.dir = dir;
  c.out_dir = out;
  c.attacks = {Attack::rmia_online, Attack::rmia_offline};
  c.rmia.min_population = 1;
  c.bootstrap = 0;
  c.plot = false;
  c.threads = 2;
  return c;
}

std::vector<double> load_scores(const std::string& path) { return npy::Reader(path).read_all<double>(); }

// sp_lira's scores against the NumPy reference for one setting.
void expect_matches_numpy(const Spec& sp, double gamma, const std::string& a, double temperature, bool equalize) {
  const std::string py = sp::test::numpy_python();
  ASSERT_FALSE(py.empty()) << "no python3 with NumPy (tools/install_deps.sh installs python3-numpy)";
  TempDir t;
  write_experiment(t / "exp", sp);
  LiraConfig c = rmia_config(t / "exp", t / "out");
  c.rmia.gamma = gamma;
  c.rmia.temperature = temperature;
  c.attack.equalize_folds = equalize;
  if (a == "calibrate") c.rmia.calibrate_a = true;
  else c.rmia.a = std::stod(a);
  LiraResult r = run_lira(c);
  EXPECT_EQ(r.population, sp.P);
  fs::create_directories(t / "ref");
  const std::string script = std::string(SP_SOURCE_DIR) + "/tests/python/rmia_reference.py";
  auto cmd = sp::test::run_command(py + " " + script + " " + (t / "exp") + " " + (t / "ref") + " " +
                                   std::to_string(gamma) + " " + a + " " + std::to_string(temperature) + " " +
                                   (equalize ? "1" : "0"));
  ASSERT_EQ(cmd.exit_code, 0) << cmd.output;
  for (const char* name : {"rmia_online", "rmia_offline"}) {
    std::vector<double> got = load_scores(t / ("out/scores_" + std::string(name) + ".npy"));
    std::vector<double> want = load_scores(t / ("ref/" + std::string(name) + ".npy"));
    ASSERT_EQ(got.size(), want.size()) << name;
    int64_t nonzero = 0;
    for (size_t k = 0; k < got.size(); ++k) {
      EXPECT_NEAR(got[k], want[k], 1e-9) << name << " pair " << k;
      nonzero += got[k] > 0 && got[k] < 1;
    }
    EXPECT_GT(nonzero, int64_t(got.size()) / 4) << name << ": the comparison should exercise fractional scores";
  }
}

double pooled_auc(const std::string& scores_path, const std::string& dir, int64_t S, int64_t M) {
  std::vector<double> s = load_scores(scores_path);
  std::vector<uint8_t> lab(size_t(S * M));
  for (int64_t t = 0; t < S; ++t) {
    std::vector<int64_t> k = npy::Reader(dir + "/shadow/" + std::to_string(t) + "/keep.npy").read_integers();
    for (int64_t i = 0; i < M; ++i) lab[size_t(t * M + i)] = uint8_t(k[size_t(i)]);
  }
  return roc_auc(roc_curve(s, lab));
}

std::string error_of(const LiraConfig& c) {
  try {
    run_lira(c);
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(Rmia, MatchesNumpyReference) { expect_matches_numpy(Spec{}, 2.0, "0.33", 1.0, false); }

TEST(Rmia, MatchesNumpyReferenceOtherGammaTemperatureAndEqualizedFolds) {
  Spec sp;
  sp.S = 8;
  sp.seed = 7;
  expect_matches_numpy(sp, 1.0, "0.6", 2.0, true);
}

TEST(Rmia, MatchesNumpyReferenceWithCalibratedA) {
  Spec sp;
  sp.seed = 11;
  sp.A = 1;
  expect_matches_numpy(sp, 1.5, "calibrate", 1.0, false);
}

TEST(Rmia, CalibratedAIsOnTheGrid) {
  TempDir t;
  Spec sp;
  write_experiment(t / "exp", sp);
  LiraConfig c = rmia_config(t / "exp", t / "out");
  c.rmia.calibrate_a = true;
  LiraResult r = run_lira(c);
  ASSERT_EQ(r.rmia_a.size(), size_t(sp.S));
  for (double a : r.rmia_a) EXPECT_NEAR(a * 10, std::round(a * 10), 1e-9) << a;
}

TEST(Rmia, NoSignalGivesAucNearHalfAndSignalIsFound) {
  TempDir t;
  Spec none;
  none.S = 8;
  none.M = 400;
  none.P = 200;
  none.A = 2;
  none.signal = 0;
  write_experiment(t / "none", none);
  run_lira(rmia_config(t / "none", t / "none_out"));
  for (const char* a : {"rmia_online", "rmia_offline"})
    EXPECT_NEAR(pooled_auc(t / ("none_out/scores_" + std::string(a) + ".npy"), t / "none", none.S, none.M), 0.5, 0.04) << a;

  Spec strong = none;
  strong.signal = 2.5;
  write_experiment(t / "strong", strong);
  run_lira(rmia_config(t / "strong", t / "strong_out"));
  for (const char* a : {"rmia_online", "rmia_offline"})
    EXPECT_GT(pooled_auc(t / ("strong_out/scores_" + std::string(a) + ".npy"), t / "strong", strong.S, strong.M), 0.8) << a;
}

TEST(Rmia, AllAttacksAddRmiaOnlyWhenThePopulationIsThere) {
  TempDir t;
  Spec sp;
  sp.P = 120;
  write_experiment(t / "exp", sp);
  LiraConfig c = plain_config(t / "exp");
  LiraResult r = run_lira(c);
  ASSERT_EQ(r.attacks.size(), 6u);
  EXPECT_EQ(r.attacks[4].attack, Attack::rmia_online);
  EXPECT_EQ(r.attacks[5].attack, Attack::rmia_offline);
  for (const AttackResult& a : r.attacks) EXPECT_EQ(a.one_run.size(), size_t(sp.S));

  c.rmia.min_population = 500;  // too few: LiRA alone, with the reason
  r = run_lira(c);
  EXPECT_EQ(r.attacks.size(), 4u);
  EXPECT_NE(r.rmia_note.find("120 population samples"), std::string::npos) << r.rmia_note;

  fs::remove_all(t / "exp/population");
  c.rmia.min_population = 100;
  r = run_lira(c);
  EXPECT_EQ(r.attacks.size(), 4u);
  EXPECT_NE(r.rmia_note.find("population"), std::string::npos);
}

TEST(Rmia, BadInputsNameTheProblem) {
  TempDir t;
  Spec sp;
  write_experiment(t / "exp", sp);
  LiraConfig c = rmia_config(t / "exp", t / "out");

  c.rmia.min_population = 100;  // 30 < 100
  std::string e = error_of(c);
  EXPECT_NE(e.find("30 population samples"), std::string::npos) << e;
  EXPECT_NE(e.find("1/30"), std::string::npos) << e;
  c.rmia.min_population = 1;

  c.rmia.population = 31;
  e = error_of(c);
  EXPECT_NE(e.find("--rmia-population 31"), std::string::npos) << e;
  c.rmia.population = 0;

  // Population logits with another number of classes.
  const std::string pl = t / "exp/shadow/2/population_logits.npy";
  std::vector<float> wrong(size_t(sp.P * sp.A * 5), 0.f);
  npy::write(pl, std::vector<int64_t>{sp.P, sp.A, 5}, wrong);
  e = error_of(c);
  EXPECT_NE(e.find(pl), std::string::npos) << e;
  EXPECT_NE(e.find("C = 5"), std::string::npos) << e;

  // Non-finite population logits: an error naming the file, or dropped and counted.
  std::vector<float> z(size_t(sp.P * sp.A * sp.C), 0.5f);
  z[size_t(7 * sp.A * sp.C)] = std::nanf("");
  npy::write(pl, std::vector<int64_t>{sp.P, sp.A, sp.C}, z);
  e = error_of(c);
  EXPECT_NE(e.find(pl), std::string::npos) << e;
  EXPECT_NE(e.find("sample 7"), std::string::npos) << e;
  c.nan_policy = NanPolicy::drop;
  LiraResult r = run_lira(c);
  EXPECT_EQ(r.rmia_dropped_population_pairs, 1);

  // A model without population queries, and an experiment without any.
  fs::remove(pl);
  e = error_of(c);
  EXPECT_NE(e.find("shadow/2"), std::string::npos) << e;
  EXPECT_NE(e.find("population_logits.npy"), std::string::npos) << e;
  fs::remove_all(t / "exp/population");
  e = error_of(c);
  EXPECT_NE(e.find("population/labels.npy"), std::string::npos) << e;

  c.rmia.gamma = 0;
  EXPECT_THROW(run_rmia(make_rmia_data(2, 1, 1, 1, {0, 0}, {0, 0}, {1, 0}), kRmiaAttacks, c.rmia), Error);
}

TEST(Rmia, OneThreadAndTwoThreadsAgree) {
  TempDir t;
  Spec sp;
  write_experiment(t / "exp", sp);
  LiraConfig c = rmia_config(t / "exp", t / "one");
  c.threads = 1;
  c.rmia.calibrate_a = true;
  run_lira(c);
  c.out_dir = t / "two";
  c.threads = 2;
  run_lira(c);
  for (const char* a : {"rmia_online", "rmia_offline"})
    EXPECT_EQ(load_scores(t / ("one/scores_" + std::string(a) + ".npy")),
              load_scores(t / ("two/scores_" + std::string(a) + ".npy")));
}

TEST(Rmia, AutomaticRmiaFailingKeepsLiraAndSaysWhy) {
  TempDir t;
  Spec sp;
  sp.P = 120;
  write_experiment(t / "exp", sp);
  sp::test::write_text(t / "exp/shadow/3/population_logits.npy", "not an npy file");
  LiraConfig c = plain_config(t / "exp");
  LiraResult r = run_lira(c);
  EXPECT_EQ(r.attacks.size(), 4u);
  EXPECT_NE(r.rmia_note.find("failed: "), std::string::npos) << r.rmia_note;
  EXPECT_NE(r.rmia_note.find("shadow/3/population_logits.npy"), std::string::npos) << r.rmia_note;
  c.attacks = {Attack::rmia_online};  // asked for by name: the error is the run's
  EXPECT_THROW(run_lira(c), Error);
}

TEST(Rmia, ViewsSelectTheSameScoresAsACopyWithThoseViews) {
  TempDir t;
  Spec sp;
  sp.P = 100;
  write_experiment(t / "exp", sp);
  // The copy keeps views 2 and 0 (in that order) of every logits file.
  const std::vector<int64_t> keep_views = {2, 0};
  fs::copy(t / "exp", t / "copy", fs::copy_options::recursive);
  for (int64_t s = 0; s < sp.S; ++s)
    for (const char* f : {"logits.npy", "population_logits.npy"}) {
      const std::string path = t / ("copy/shadow/" + std::to_string(s) + "/" + f);
      npy::Reader r(path);
      const int64_t n = r.shape()[0], A = r.shape()[1], C = r.shape()[2];
      std::vector<float> all = r.read_all<float>(), part;
      for (int64_t i = 0; i < n; ++i)
        for (int64_t a : keep_views) part.insert(part.end(), all.begin() + (i * A + a) * C, all.begin() + (i * A + a + 1) * C);
      npy::write(path, std::vector<int64_t>{n, int64_t(keep_views.size()), C}, part);
    }
  LiraConfig c = plain_config(t / "exp");
  c.out_dir = t / "a";
  c.views = keep_views;
  LiraResult ra = run_lira(c);
  EXPECT_EQ(ra.A, 2);
  c.dir = t / "copy";
  c.out_dir = t / "b";
  c.views.clear();
  LiraResult rb = run_lira(c);
  ASSERT_EQ(ra.attacks.size(), 6u);
  for (const AttackResult& a : ra.attacks) {
    const std::string f = "/scores_" + std::string(attack_name(a.attack)) + ".npy";
    EXPECT_EQ(load_scores(t / "a" + f), load_scores(t / "b" + f)) << attack_name(a.attack);
  }
  c.dir = t / "exp";
  c.views = {0, 3};
  std::string e = error_of(c);
  EXPECT_NE(e.find("--views: view 3 does not exist"), std::string::npos) << e;
  c.views = {1, 1};
  e = error_of(c);
  EXPECT_NE(e.find("listed twice"), std::string::npos) << e;
}

TEST(Rmia, SyntheticExperimentsCarryAPopulation) {
  TempDir t;
  SynthOptions o;
  o.S = 8;
  o.M = 300;
  o.A = 2;
  o.P = 150;
  o.gain = 0;  // no signal
  o.threads = 1;
  write_synthetic_experiment(t / "none", o);
  EXPECT_EQ(npy::Reader(t / "none/shadow/5/population_logits.npy").shape(), (std::vector<int64_t>{150, 2, 10}));
  LiraResult r = run_lira(plain_config(t / "none"));
  ASSERT_EQ(r.population, 150);
  for (const char* a : {"rmia_online", "rmia_offline"})
    EXPECT_NEAR(pooled_auc(t / ("none/lira/scores_" + std::string(a) + ".npy"), t / "none", o.S, o.M), 0.5, 0.05) << a;
  o.gain = 3;
  write_synthetic_experiment(t / "signal", o);
  run_lira(plain_config(t / "signal"));
  for (const char* a : {"rmia_online", "rmia_offline"})
    // Margins of 3 +- 2 put Pr(x|θ) near 1, where RMIA's probability ratio saturates: a clear but modest signal.
    EXPECT_GT(pooled_auc(t / ("signal/lira/scores_" + std::string(a) + ".npy"), t / "signal", o.S, o.M), 0.65) << a;
  o.layout = Layout::tf_privacy;
  EXPECT_THROW(write_synthetic_experiment(t / "tf", o), Error);
}
