// Loading experiments from disk: phi from streamed logits equals the statistic of each row (any block
// size, thread count, f32 or f64 logits), both layouts (tf-privacy: numeric experiment order, newest
// logits file), and every bad input of issue 5 rejected with the file and index in the message, or
// dropped and counted under --nan-policy drop.
#include <gtest/gtest.h>

#include <filesystem>
#include <random>

#include "attacks/lira_data.h"
#include "data/npy.h"
#include "tests/lira_test_util.h"

using namespace sp;
using namespace sp::lira;
using sp::test::TempDir;
namespace fs = std::filesystem;

namespace {

struct DiskExp {
  int64_t S, M, A, C;
  std::vector<int64_t> labels;
  std::vector<std::vector<float>> logits;  // per model [M][A][C]
  std::vector<std::vector<uint8_t>> keep;  // per model [M]
};

DiskExp random_exp(int64_t S, int64_t M, int64_t A, int64_t C, uint64_t seed) {
  DiskExp e{S, M, A, C, {}, {}, {}};
  std::mt19937_64 g(seed);
  std::normal_distribution<float> nd(0, 3);
  for (int64_t i = 0; i < M; ++i) e.labels.push_back(int64_t(g() % uint64_t(C)));
  for (int64_t s = 0; s < S; ++s) {
    std::vector<float> l(size_t(M * A * C));
    for (auto& v : l) v = nd(g);
    std::vector<uint8_t> k(static_cast<size_t>(M));
    for (int64_t i = 0; i < M; ++i) k[size_t(i)] = uint8_t((i + s) % 2);
    e.logits.push_back(l);
    e.keep.push_back(k);
  }
  return e;
}

std::string model_dir(const std::string& root, const DiskExp& e, int64_t s, Layout layout) {
  return layout == Layout::synpriv ? root + "/shadow/" + std::to_string(s)
                                   : root + "/experiment-" + std::to_string(s) + "_" + std::to_string(e.S);
}

void write_exp(const std::string& root, const DiskExp& e, Layout layout) {
  const bool tf = layout == Layout::tf_privacy;
  fs::create_directories(root + (tf ? "" : "/audit"));
  npy::write(root + (tf ? "/y_train.npy" : "/audit/labels.npy"), std::vector<int64_t>{e.M}, e.labels);
  for (int64_t s = 0; s < e.S; ++s) {
    std::string m = model_dir(root, e, s, layout);
    fs::create_directories(tf ? m + "/logits" : m);
    npy::write_bool(m + "/keep.npy", std::vector<int64_t>{e.M}, e.keep[size_t(s)]);
    if (tf) {
      npy::write(m + "/logits/0000000100.npy", std::vector<int64_t>{e.M, 1, e.A, e.C}, e.logits[size_t(s)]);
    } else {
      npy::write(m + "/logits.npy", std::vector<int64_t>{e.M, e.A, e.C}, e.logits[size_t(s)]);
    }
  }
}

void expect_phi_matches(const LiraData& d, const DiskExp& e, Statistic st) {
  ASSERT_EQ(d.S, e.S);
  ASSERT_EQ(d.M, e.M);
  ASSERT_EQ(d.A, e.A);
  ASSERT_EQ(d.C, e.C);
  for (int64_t s = 0; s < e.S; ++s)
    for (int64_t i = 0; i < e.M; ++i) {
      EXPECT_EQ(d.member[size_t(i * e.S + s)], e.keep[size_t(s)][size_t(i)]);
      for (int64_t a = 0; a < e.A; ++a)
        ASSERT_EQ(d.at(s, i, a), lira_statistic(&e.logits[size_t(s)][size_t((i * e.A + a) * e.C)], e.C, e.labels[size_t(i)], st))
            << s << " " << i << " " << a;
    }
}

// Runs find + load and expects an sp::Error whose message contains every needle.
void expect_error(const std::string& root, Layout layout, std::vector<std::string> needles, LoadOptions opt = {}) {
  try {
    LiraData d = load_experiment(find_experiment(root, layout), opt);
    ADD_FAILURE() << "loaded a bad experiment; expected: " << needles[0];
  } catch (const Error& err) {
    std::string m = err.what();
    for (const std::string& n : needles) EXPECT_NE(m.find(n), std::string::npos) << "missing '" << n << "' in: " << m;
  }
}

}  // namespace

TEST(LiraData, SynprivLayoutAnyBlockAndThreads) {
  TempDir t;
  DiskExp e = random_exp(5, 37, 3, 4, 1);
  write_exp(t.path(), e, Layout::synpriv);
  ExperimentFiles f = find_experiment(t.path(), Layout::synpriv);
  ASSERT_EQ(f.models.size(), 5u);
  for (int threads : {1, 2})
    for (int64_t block : {1, 7, 128}) {
      LoadOptions o;
      o.threads = threads;
      o.block = block;
      expect_phi_matches(load_experiment(f, o), e, Statistic::logit);
    }
  LoadOptions h;
  h.statistic = Statistic::hinge;
  expect_phi_matches(load_experiment(f, h), e, Statistic::hinge);
}

TEST(LiraData, Float64LogitsAndHiddenEntries) {
  TempDir t;
  DiskExp e = random_exp(3, 9, 2, 3, 2);
  write_exp(t.path(), e, Layout::synpriv);
  std::vector<double> d64(e.logits[1].begin(), e.logits[1].end());
  npy::write(t / "shadow/1/logits.npy", std::vector<int64_t>{e.M, e.A, e.C}, d64);
  sp::test::write_text(t / "shadow/.DS_Store", "x");
  expect_phi_matches(load_experiment(find_experiment(t.path(), Layout::synpriv), {}), e, Statistic::logit);
}

TEST(LiraData, TfPrivacyLayout) {
  TempDir t;
  DiskExp e = random_exp(12, 11, 2, 10, 3);  // 12 experiments: "experiment-10" sorts after "experiment-9"
  write_exp(t.path(), e, Layout::tf_privacy);
  // An older checkpoint's logits, full of garbage, must be ignored in favour of the newest file.
  std::vector<float> junk(size_t(e.M * e.A * e.C), std::nanf(""));
  npy::write(model_dir(t.path(), e, 4, Layout::tf_privacy) + "/logits/0000000020.npy",
             std::vector<int64_t>{e.M, 1, e.A, e.C}, junk);
  npy::write(t / "x_train.npy", std::vector<int64_t>{2}, std::vector<float>{0, 0});  // unrelated files are fine
  ExperimentFiles f = find_experiment(t.path(), Layout::tf_privacy);
  ASSERT_EQ(f.models.size(), 12u);
  EXPECT_NE(f.models[10].dir.find("experiment-10_12"), std::string::npos);
  EXPECT_NE(f.models[4].logits.find("0000000100.npy"), std::string::npos);
  expect_phi_matches(load_experiment(f, {}), e, Statistic::logit);
  // tf-privacy logits must be [N, 1, A, C].
  npy::write(model_dir(t.path(), e, 2, Layout::tf_privacy) + "/logits/0000000200.npy",
             std::vector<int64_t>{e.M, e.A, e.C}, e.logits[2]);
  expect_error(t.path(), Layout::tf_privacy, {"0000000200.npy", "[N, 1, A, C]"});
  fs::remove_all(model_dir(t.path(), e, 2, Layout::tf_privacy) + "/logits");
  expect_error(t.path(), Layout::tf_privacy, {"experiment-2_12/logits", "missing directory"});
}

TEST(LiraData, MissingOrExtraModelDirectories) {
  TempDir t;
  DiskExp e = random_exp(4, 6, 1, 3, 4);
  write_exp(t.path(), e, Layout::synpriv);
  fs::rename(t / "shadow/2", t / "shadow/7");
  expect_error(t.path(), Layout::synpriv, {"shadow/2", "missing model directory"});
  fs::rename(t / "shadow/7", t / "shadow/2");
  fs::create_directories(t / "shadow/extra");
  expect_error(t.path(), Layout::synpriv, {"shadow/extra", "unexpected entry"});
  fs::remove_all(t / "shadow/extra");
  fs::create_directories(t / "shadow/02");
  expect_error(t.path(), Layout::synpriv, {"shadow/02", "unexpected entry"});
  fs::remove_all(t / "shadow/02");
  fs::remove(t / "shadow/3/logits.npy");
  expect_error(t.path(), Layout::synpriv, {"shadow/3/logits.npy", "missing file"});
  fs::remove_all(t / "shadow");
  expect_error(t.path(), Layout::synpriv, {"shadow", "missing directory"});
  expect_error(t / "nowhere", Layout::synpriv, {"nowhere", "missing directory"});
  expect_error(t.path(), Layout::tf_privacy, {"y_train.npy", "missing file"});
}

TEST(LiraData, ShapeAndDtypeMismatches) {
  TempDir t;
  DiskExp e = random_exp(3, 6, 2, 3, 5);
  write_exp(t.path(), e, Layout::synpriv);
  const std::string keep1 = t / "shadow/1/keep.npy", log2 = t / "shadow/2/logits.npy";
  npy::write_bool(keep1, std::vector<int64_t>{5}, std::vector<uint8_t>(5, 1));
  expect_error(t.path(), Layout::synpriv, {keep1, "5 entries", "6 samples"});
  npy::write(keep1, std::vector<int64_t>{6}, std::vector<int64_t>{0, 1, 2, 0, 1, 0});
  expect_error(t.path(), Layout::synpriv, {keep1, "entry 2 is 2"});
  npy::write_bool(keep1, std::vector<int64_t>{6}, e.keep[1]);
  npy::write(log2, std::vector<int64_t>{7, 2, 3}, std::vector<float>(42, 0.f));
  expect_error(t.path(), Layout::synpriv, {log2, "7 samples", "labels.npy has 6"});
  npy::write(log2, std::vector<int64_t>{6, 3, 3}, std::vector<float>(54, 0.f));
  expect_error(t.path(), Layout::synpriv, {log2, "A = 3", "shadow/0/logits.npy has A = 2"});
  npy::write(log2, std::vector<int64_t>{6, 2, 4}, std::vector<float>(48, 0.f));
  expect_error(t.path(), Layout::synpriv, {log2, "C = 4"});
  npy::write(log2, std::vector<int64_t>{6, 6}, std::vector<float>(36, 0.f));
  expect_error(t.path(), Layout::synpriv, {log2, "[M, A, C]"});
  npy::write(log2, std::vector<int64_t>{6, 2, 3}, std::vector<int32_t>(36, 0));
  expect_error(t.path(), Layout::synpriv, {log2, "float32"});
  npy::write(log2, std::vector<int64_t>{6, 2, 1}, std::vector<float>(12, 0.f));
  expect_error(t.path(), Layout::synpriv, {log2, "C >= 2"});
}

TEST(LiraData, LabelsOutOfRange) {
  TempDir t;
  DiskExp e = random_exp(3, 6, 1, 3, 6);
  e.labels[4] = 3;
  write_exp(t.path(), e, Layout::synpriv);
  expect_error(t.path(), Layout::synpriv, {"audit/labels.npy", "label 3 at index 4", "[0, 3)"});
  e.labels[4] = -1;
  write_exp(t.path(), e, Layout::synpriv);
  expect_error(t.path(), Layout::synpriv, {"label -1 at index 4"});
  npy::write(t / "audit/labels.npy", std::vector<int64_t>{6}, std::vector<float>(6, 0.f));
  expect_error(t.path(), Layout::synpriv, {"labels.npy", "integer"});
}

TEST(LiraData, NonFiniteLogitsErrorOrDrop) {
  TempDir t;
  DiskExp e = random_exp(4, 10, 3, 5, 7);
  e.logits[2][size_t((6 * 3 + 1) * 5 + 4)] = std::nanf("");                       // sample 6, query 1, class 4
  e.logits[0][size_t((3 * 3 + 2) * 5 + 0)] = -std::numeric_limits<float>::infinity();  // sample 3, query 2
  e.logits[0][size_t((3 * 3 + 0) * 5 + 1)] = std::numeric_limits<float>::infinity();   // same pair again
  write_exp(t.path(), e, Layout::synpriv);
  LoadOptions one;
  one.threads = 1;
  expect_error(t.path(), Layout::synpriv, {"shadow/0/logits.npy", "non-finite logit", "sample 3, query 0, class 1", "--nan-policy"},
               one);
  LoadOptions drop;
  drop.nan_policy = NanPolicy::drop;
  LiraData d = load_experiment(find_experiment(t.path(), Layout::synpriv), drop);
  EXPECT_EQ(d.dropped_pairs, 2);
  EXPECT_EQ(d.nonfinite_logits, 3);
  EXPECT_EQ(d.valid[size_t(6 * 4 + 2)], 0);
  EXPECT_EQ(d.valid[size_t(3 * 4 + 0)], 0);
  EXPECT_EQ(std::count(d.valid.begin(), d.valid.end(), 0), 2);
  for (int64_t a = 0; a < 3; ++a) EXPECT_TRUE(std::isnan(d.at(2, 6, a)));
  EXPECT_TRUE(std::isfinite(d.at(1, 6, 0)));
}
