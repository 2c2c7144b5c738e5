// Experiment directory: layout and contents (read back with the .npy reader and, when python3-numpy is
// installed, by numpy itself), reopening, refusal of a different configuration or a foreign directory,
// tampered/missing/corrupt files named in the error, nothing half-written, concurrent creation by threads
// (by processes: tests/test_data_tool.cpp), a creation interrupted half-way is completed by the next one.
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "data/archive.h"
#include "data/atomic_file.h"
#include "data/experiment.h"
#include "data/npy.h"
#include "data/procedural.h"
#include "tests/data_test_util.h"
#include "tests/python_util.h"

using namespace sp;
using namespace sp::data;
namespace fs = std::filesystem;

namespace {
struct Fixture {
  Dataset train = make_shapes10(300, 1);
  std::vector<int64_t> labels = train.labels.to_vector<int64_t>();
  ExperimentConfig cfg = make_experiment_config("shapes10:seed=1,train=300,test=1", train, 7, 20, 4);
};
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}
std::vector<std::string> entries(const std::string& d) {
  std::vector<std::string> v;
  for (const auto& e : fs::directory_iterator(d)) v.push_back(e.path().filename().string());
  std::sort(v.begin(), v.end());
  return v;
}
std::string json_list(const std::vector<int64_t>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
  return s + "]";
}
}  // namespace

TEST(DataExperiment, LayoutAndContents) {
  test::TempDir tmp("exp_layout");
  Fixture s;
  std::string dir = tmp / "exp";
  Experiment e = create_or_open_experiment(dir, s.cfg, s.labels);
  EXPECT_EQ(entries(dir), (std::vector<std::string>{".lock", "audit", "experiment.json", "shadow"}));
  EXPECT_EQ(entries(dir + "/audit"), (std::vector<std::string>{"indices.npy", "labels.npy", "true_labels.npy"}));
  EXPECT_EQ(entries(dir + "/shadow"), (std::vector<std::string>{"0", "1", "2", "3"}));
  EXPECT_EQ(entries(tmp.path()), std::vector<std::string>{"exp"});  // no temporary left beside it

  AuditSet want = choose_audit_set(s.labels, 10, 20, CanaryType::mislabel, 7);
  npy::Reader idx(dir + "/audit/indices.npy");
  EXPECT_EQ(idx.dtype(), DType::i64);
  EXPECT_EQ(idx.shape(), std::vector<int64_t>{20});
  EXPECT_EQ(idx.read_all<int64_t>(), want.indices);
  EXPECT_EQ(npy::Reader(dir + "/audit/labels.npy").read_all<int64_t>(), want.labels);
  EXPECT_EQ(npy::Reader(dir + "/audit/true_labels.npy").read_all<int64_t>(), want.true_labels);
  Membership m = assign_membership(20, 4, 7);
  for (int k = 0; k < 4; ++k) {
    npy::Reader keep(dir + "/shadow/" + std::to_string(k) + "/keep.npy");
    EXPECT_EQ(keep.dtype(), DType::boolean);
    std::vector<uint8_t> r = m.row(k);
    std::vector<int64_t> row = keep.read_integers(), mrow(r.begin(), r.end());
    EXPECT_EQ(row, mrow) << "model " << k;
  }
  EXPECT_EQ(e.audit.indices, want.indices);
  EXPECT_EQ(e.membership.keep, m.keep);
  EXPECT_EQ(e.shadow_dir(2), dir + "/shadow/2");

  nlohmann::json j = nlohmann::json::parse(std::ifstream(dir + "/experiment.json"));
  EXPECT_EQ(j["seed"], 7);
  EXPECT_EQ(j["dataset"]["spec"], "shapes10:seed=1,train=300,test=1");
  EXPECT_EQ(j["dataset"]["fingerprint"], fingerprint(s.train));
  EXPECT_EQ(j["dataset"]["train_size"], 300);
  EXPECT_EQ(j["dataset"]["classes"][9], "checker");
  EXPECT_EQ(j["audit"]["num_audit"], 20);
  EXPECT_EQ(j["audit"]["canary"], "mislabel");
  EXPECT_EQ(j["shadow"]["num_models"], 4);
  EXPECT_EQ(j["shadow"]["in_per_sample"], 2);
}

TEST(DataExperiment, NumpyReadsIt) {
  const std::string py = test::numpy_python();
  ASSERT_FALSE(py.empty()) << "no python3 with NumPy (tools/install_deps.sh installs python3-numpy)";
  test::TempDir tmp("exp_numpy");
  Fixture s;
  Experiment e = create_or_open_experiment(tmp / "exp", s.cfg, s.labels);
  std::vector<int64_t> keep(e.membership.keep.begin(), e.membership.keep.end());
  const char* check = R"(
import sys, json, numpy as np
d = sys.argv[1]
idx = np.load(d + '/audit/indices.npy'); lab = np.load(d + '/audit/labels.npy'); tru = np.load(d + '/audit/true_labels.npy')
assert idx.dtype == np.int64 and idx.shape == (20,) and idx.tolist() == json.loads(sys.argv[2])
assert lab.dtype == np.int64 and lab.tolist() == json.loads(sys.argv[3]) and (lab != tru).all()
k = np.stack([np.load(f'{d}/shadow/{i}/keep.npy') for i in range(4)])
assert k.dtype == np.bool_ and k.shape == (4, 20) and (k.sum(0) == 2).all()
assert k.astype(np.int64).ravel().tolist() == json.loads(sys.argv[4])
)";
  EXPECT_EQ(run_program({py, "-c", check, tmp / "exp", json_list(e.audit.indices), json_list(e.audit.labels),
                         json_list(keep)}),
            0);
}

TEST(DataExperiment, ReopenSameRefuseDifferent) {
  test::TempDir tmp("exp_reopen");
  Fixture s;
  std::string dir = tmp / "exp";
  Experiment a = create_or_open_experiment(dir, s.cfg, s.labels);
  auto before = fs::last_write_time(dir + "/shadow/1/keep.npy");
  Experiment b = create_or_open_experiment(dir, s.cfg, s.labels);
  EXPECT_EQ(b.audit.labels, a.audit.labels);
  EXPECT_EQ(b.membership.keep, a.membership.keep);
  EXPECT_EQ(fs::last_write_time(dir + "/shadow/1/keep.npy"), before);
  Experiment c = open_experiment(dir);
  EXPECT_EQ(c.config.seed, 7u);
  EXPECT_EQ(c.config.num_models, 4);
  EXPECT_EQ(c.audit.true_labels, a.audit.true_labels);

  auto refused = [&](ExperimentConfig cfg, const std::string& key) {
    std::string m = error_of([&] { create_or_open_experiment(dir, cfg, s.labels); });
    EXPECT_NE(m.find(dir + "/experiment.json"), std::string::npos) << m;
    EXPECT_NE(m.find(key), std::string::npos) << m;
  };
  ExperimentConfig other = s.cfg;
  other.num_models = 6;
  refused(other, "shadow.num_models: 4 here, 6 requested");
  other = s.cfg;
  other.seed = 8;
  refused(other, "seed: 7 here, 8 requested");
  other = s.cfg;
  other.canary = CanaryType::clean;
  refused(other, "audit.canary");
  other = s.cfg;
  other.dataset_fingerprint = std::string(64, '0');
  refused(other, "dataset.fingerprint");
  EXPECT_EQ(fs::last_write_time(dir + "/shadow/1/keep.npy"), before);  // untouched by the refusals
  other = s.cfg;
  other.dataset = "shapes10 moved elsewhere";  // the spec is informational; the fingerprint must match
  EXPECT_EQ(create_or_open_experiment(dir, other, s.labels).membership.keep, a.membership.keep);
  // Same configuration, but labels that contradict the stored true labels: a different training set.
  std::vector<int64_t> shifted = s.labels;
  for (auto& y : shifted) y = (y + 1) % 10;
  EXPECT_NE(error_of([&] { create_or_open_experiment(dir, s.cfg, shifted); }).find("true_labels.npy"),
            std::string::npos);
}

TEST(DataExperiment, DamagedDirectoriesNameTheFile) {
  test::TempDir tmp("exp_damaged");
  Fixture s;
  std::string dir = tmp / "exp";
  create_or_open_experiment(dir, s.cfg, s.labels);
  auto expect_named = [&](const std::string& file) {
    std::string m = error_of([&] { open_experiment(dir); });
    EXPECT_NE(m.find(file), std::string::npos) << "want " << file << " in: " << m;
    std::string m2 = error_of([&] { create_or_open_experiment(dir, s.cfg, s.labels); });
    EXPECT_NE(m2.find(file), std::string::npos) << "want " << file << " in: " << m2;
  };
  Membership m = assign_membership(20, 4, 7);
  std::vector<uint8_t> row = m.row(3);
  row[0] ^= 1;
  std::vector<int64_t> shape{20};
  npy::write_bool(dir + "/shadow/3/keep.npy", shape, row);
  expect_named(dir + "/shadow/3/keep.npy");
  npy::write_bool(dir + "/shadow/3/keep.npy", shape, m.row(3));
  open_experiment(dir);  // repaired

  std::vector<int64_t> lab = npy::Reader(dir + "/audit/labels.npy").read_all<int64_t>();
  npy::write(dir + "/audit/labels.npy", std::vector<int64_t>{19}, std::vector<int64_t>(lab.begin(), lab.end() - 1));
  expect_named(dir + "/audit/labels.npy");
  npy::write(dir + "/audit/labels.npy", shape, npy::Reader(dir + "/audit/true_labels.npy").read_all<int64_t>());
  expect_named(dir + "/audit/labels.npy");  // clean labels in a mislabel experiment
  npy::write(dir + "/audit/labels.npy", shape, lab);
  // A true label edited to the canary's label (a canary never has its true label): the message names both files.
  std::vector<int64_t> tru = npy::Reader(dir + "/audit/true_labels.npy").read_all<int64_t>(), bad_tru = tru;
  bad_tru[4] = lab[4];
  npy::write(dir + "/audit/true_labels.npy", shape, bad_tru);
  expect_named(dir + "/audit/true_labels.npy");
  npy::write(dir + "/audit/true_labels.npy", shape, tru);

  fs::remove(dir + "/shadow/0/keep.npy");
  expect_named(dir + "/shadow/0/keep.npy");
  npy::write_bool(dir + "/shadow/0/keep.npy", shape, m.row(0));

  std::string good;
  {
    std::ifstream in(dir + "/experiment.json");
    good.assign(std::istreambuf_iterator<char>(in), {});
  }
  write_file_atomic(dir + "/experiment.json", std::string("{\"format\": \"synpriv-experiment\""));
  expect_named(dir + "/experiment.json");
  write_file_atomic(dir + "/experiment.json", std::string("{\"format\": \"something-else\", \"version\": 1}"));
  expect_named(dir + "/experiment.json");
  write_file_atomic(dir + "/experiment.json", good);
  open_experiment(dir);
}

TEST(DataExperiment, ForeignEmptyAndBadRequests) {
  test::TempDir tmp("exp_foreign");
  Fixture s;
  fs::create_directories(tmp / "other");
  write_file_atomic(tmp / "other/notes.txt", std::string("mine"));
  std::string m = error_of([&] { create_or_open_experiment(tmp / "other", s.cfg, s.labels); });
  EXPECT_NE(m.find("not an experiment directory"), std::string::npos) << m;
  EXPECT_EQ(entries(tmp / "other"), std::vector<std::string>{"notes.txt"});
  fs::create_directories(tmp / "empty");
  create_or_open_experiment(tmp / "empty", s.cfg, s.labels);  // an empty folder is filled
  EXPECT_TRUE(fs::exists(tmp / "empty/experiment.json"));

  ExperimentConfig bad = s.cfg;
  bad.num_audit = 301;
  EXPECT_THROW(create_or_open_experiment(tmp / "bad", bad, s.labels), Error);
  bad = s.cfg;
  bad.num_models = 5;
  EXPECT_THROW(create_or_open_experiment(tmp / "bad", bad, s.labels), Error);
  EXPECT_THROW(create_or_open_experiment(tmp / "bad", s.cfg, std::vector<int64_t>(299, 0)), Error);
  EXPECT_FALSE(fs::exists(tmp / "bad"));
  // A path whose parent is a file cannot be created: the error leaves nothing behind.
  EXPECT_THROW(create_or_open_experiment(tmp / "other/notes.txt/exp", s.cfg, s.labels), Error);
  for (const std::string& name : entries(tmp.path())) EXPECT_EQ(name.find(".tmp-"), std::string::npos) << name;
  EXPECT_THROW(open_experiment(tmp / "nowhere"), Error);
}

TEST(DataExperiment, ConcurrentCreationAgrees) {
  test::TempDir tmp("exp_race");
  Fixture s;
  std::vector<Experiment> got(4);
  std::vector<std::string> errors(4);
  std::vector<std::thread> th;
  for (int t = 0; t < 4; ++t)
    th.emplace_back([&, t] {
      try {
        got[size_t(t)] = create_or_open_experiment(tmp / "exp", s.cfg, s.labels);
      } catch (const std::exception& e) {
        errors[size_t(t)] = e.what();
      }
    });
  for (auto& t : th) t.join();
  for (int t = 0; t < 4; ++t) {
    EXPECT_EQ(errors[size_t(t)], "");
    EXPECT_EQ(got[size_t(t)].membership.keep, got[0].membership.keep);
  }
  EXPECT_EQ(entries(tmp.path()), std::vector<std::string>{"exp"});
}

TEST(DataExperiment, InterruptedCreationIsCompletedForeignFilesAreNot) {
  test::TempDir tmp("exp_interrupted");
  Fixture s;
  // What a creator killed before experiment.json leaves: the lock, some arrays (one of them wrong: it would
  // have been overwritten) and an atomic write's temporary.
  std::string dir = tmp / "exp";
  fs::create_directories(dir + "/audit");
  fs::create_directories(dir + "/shadow/0");
  write_file_atomic(dir + "/.lock", std::string());
  npy::write(dir + "/audit/indices.npy", std::vector<int64_t>{2}, std::vector<int64_t>{5, 9});
  write_file_atomic(dir + "/shadow/0/keep.npy.tmp.123.0", std::string("partial"));
  EXPECT_TRUE(is_fresh_experiment_dir(dir));
  Experiment e = create_or_open_experiment(dir, s.cfg, s.labels);
  EXPECT_FALSE(is_fresh_experiment_dir(dir));
  EXPECT_EQ(open_experiment(dir).audit.indices, e.audit.indices);
  EXPECT_EQ(e.audit.indices.size(), 20u);

  // Anything creation does not write makes the directory foreign, and it is left as it is.
  for (std::string extra : {"notes.txt", "audit/notes.txt", "shadow/0/model.safetensors", "shadow/x/keep.npy"}) {
    SCOPED_TRACE(extra);
    std::string d = tmp / "foreign";
    fs::remove_all(d);
    fs::create_directories(fs::path(d + "/" + extra).parent_path());
    write_file_atomic(d + "/" + extra, std::string("mine"));
    EXPECT_FALSE(is_fresh_experiment_dir(d));
    std::string m = error_of([&] { create_or_open_experiment(d, s.cfg, s.labels); });
    EXPECT_NE(m.find("not an experiment directory"), std::string::npos) << m;
    EXPECT_FALSE(fs::exists(d + "/.lock"));
    EXPECT_FALSE(fs::exists(d + "/experiment.json"));
  }
  // A directory with the lock file may be one another process is creating right now: the check before the
  // lock lets it through, the exact one under the lock still refuses foreign files.
  std::string d = tmp / "locked_foreign";
  fs::create_directories(d);
  write_file_atomic(d + "/.lock", std::string());
  write_file_atomic(d + "/notes.txt", std::string("mine"));
  EXPECT_TRUE(may_hold_experiment(d));
  EXPECT_FALSE(is_fresh_experiment_dir(d));
  std::string m = error_of([&] { create_or_open_experiment(d, s.cfg, s.labels); });
  EXPECT_NE(m.find("not an experiment directory"), std::string::npos) << m;
  EXPECT_FALSE(fs::exists(d + "/experiment.json"));
  EXPECT_FALSE(may_hold_experiment(tmp / "foreign"));
  EXPECT_TRUE(may_hold_experiment(dir));
  EXPECT_TRUE(is_fresh_experiment_dir(tmp / "missing"));
  EXPECT_FALSE(is_fresh_experiment_dir(dir + "/experiment.json"));  // a file
}
