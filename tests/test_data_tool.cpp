// sp_data end to end: init-experiment creates a directory, repeats quietly, and exits non-zero leaving it
// untouched when asked for a different configuration; bad data (a truncated batch, an undecodable image)
// gives a non-zero exit; preview writes a PNG. Many processes creating one experiment at once all agree, and
// when their configurations differ exactly one configuration wins.
#include "data/archive.h"
#include "data/atomic_file.h"
#include "data/cifar_binary.h"
#include "data/experiment.h"
#include "data/procedural.h"
#include "tests/data_test_util.h"
#include "tests/process_test_util.h"

using namespace sp;
using namespace sp::data;
namespace fs = std::filesystem;

TEST(DataTool, ExitStatusAndNothingHalfWritten) {
  std::string tool = std::string(SP_BINARY_DIR) + "/bin/sp_data";
  if (!fs::exists(tool)) GTEST_SKIP() << "skipped: " << tool << " not built";
  test::TempDir tmp("sp_data_tool");
  std::string exp = tmp / "exp", spec = "shapes10:train=200,test=10";
  ASSERT_EQ(run_program({tool, "init-experiment", "--dataset", spec, "--out", exp, "--audit", "20", "--models", "4"}), 0);
  Experiment e = open_experiment(exp);
  EXPECT_EQ(e.config.dataset, "shapes10:seed=0,train=200,test=10");
  EXPECT_EQ(e.config.dataset_fingerprint, fingerprint(make_shapes10(200, 0)));
  auto stamp = fs::last_write_time(exp + "/experiment.json");
  EXPECT_EQ(run_program({tool, "init-experiment", "--dataset", spec, "--out", exp, "--audit", "20", "--models", "4"}), 0);
  EXPECT_NE(run_program({tool, "init-experiment", "--dataset", spec, "--out", exp, "--audit", "20", "--models", "6"}), 0);
  EXPECT_NE(run_program({tool, "init-experiment", "--dataset", spec, "--out", exp, "--audit", "20", "--models", "4",
                         "--canary", "clean"}), 0);
  EXPECT_EQ(fs::last_write_time(exp + "/experiment.json"), stamp);
  EXPECT_EQ(open_experiment(exp).membership.keep, e.membership.keep);

  std::string bin = tmp / "bin/cifar-10-batches-bin";
  fs::create_directories(bin);
  Dataset one = make_dataset("one", 1, 3, 32, 32, cifar10_classes());
  one.images.zero_();
  for (std::string f : {"data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch"})
    write_cifar10_batch(bin + "/" + f + ".bin", one);
  EXPECT_NE(run_program({tool, "bench", "--dataset", "cifar10:" + tmp / "bin"}), 0);  // 1 record, not 10,000
  fs::create_directories(tmp / "img/train/a");
  fs::create_directories(tmp / "img/test/a");
  write_file_atomic(tmp / "img/train/a/0.png", std::string("garbage"));
  write_file_atomic(tmp / "img/test/a/0.png", std::string("garbage"));
  EXPECT_NE(run_program({tool, "bench", "--dataset", "folder:" + tmp / "img"}), 0);
  EXPECT_NE(run_program({tool, "bench", "--dataset", "nonsense"}), 0);

  ASSERT_EQ(run_program({tool, "preview", "--dataset", "shapes10:train=100,test=10", "--out", tmp / "g.png",
                         "--per-class", "2"}), 0);
  EXPECT_GT(fs::file_size(tmp / "g.png"), 1000u);
}

TEST(DataTool, ConcurrentInitExperimentAgrees) {
  std::string tool = std::string(SP_BINARY_DIR) + "/bin/sp_data";
  if (!fs::exists(tool)) GTEST_SKIP() << "skipped: " << tool << " not built";
  test::TempDir tmp("sp_data_race");
  auto init = [&](const std::string& dir, const std::string& models) {
    return std::vector<std::string>{tool,    "init-experiment", "--dataset", "shapes10:train=200,test=10", "--out",
                                    dir,     "--audit",         "20",        "--models",                   models};
  };
  std::vector<std::vector<std::string>> same(6, init(tmp / "same", "4"));
  EXPECT_EQ(test::run_concurrently(same), std::vector<int>(6, 0));
  Experiment e = open_experiment(tmp / "same");
  EXPECT_EQ(e.membership.keep, assign_membership(20, 4, 0).keep);
  EXPECT_NE(run_program(init(tmp / "same", "6")), 0);  // a different configuration is still refused

  // Five requests for 4 models and one for 6 racing on a fresh directory: one configuration is created and
  // every request for the other is refused.
  std::vector<std::vector<std::string>> mixed(5, init(tmp / "mixed", "4"));
  mixed.insert(mixed.begin() + 2, init(tmp / "mixed", "6"));
  std::vector<int> codes = test::run_concurrently(mixed);
  int models = open_experiment(tmp / "mixed").config.num_models;
  ASSERT_TRUE(models == 4 || models == 6) << models;
  for (size_t i = 0; i < mixed.size(); ++i)
    EXPECT_EQ(codes[i] == 0, mixed[i].back() == std::to_string(models)) << "process " << i << " exit " << codes[i];
}
