// The full-size GPU check of issue 19: one epoch of CIFAR-10 (a shadow model's 25,000 training images, the
// 10,000 test images) trained by sp_train on the GPU and on the CPU backend from the same configuration: the
// epoch's mean training loss and accuracy and the test accuracy must agree within what float rounding can
// move over ~100 SGD steps (the trajectories separate, the statistics of an epoch do not). TF32 off and
// deterministic cuDNN algorithms, so the GPU side is full fp32. ResNet-18 at width 16 keeps the CPU side
// under a minute on the GPU machine's 16 cores. Skips without a GPU or without the shared CIFAR-10 archive
// (tools/gpu_check.sh carries it as .device/shared).
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/gpu/gpu_test_util.h"
#include "tests/shared_data_util.h"

using namespace sp;
namespace fs = std::filesystem;

namespace {

int run(const std::string& cmd, const std::string& log) { return std::system((cmd + " >" + log + " 2>&1").c_str()); }

nlohmann::json metrics_of(const std::string& dir) {
  std::ifstream f(dir + "/shadow/0/metrics.json");
  return nlohmann::json::parse(f);
}

}  // namespace

TEST(Cifar10EpochGpu, OneEpochMatchesTheCpuBackend) {
  SP_REQUIRE_GPU();
  std::string why;
  const std::string images = test::shared_cifar10_jpeg(&why);
  if (images.empty()) GTEST_SKIP() << why;
  const std::string train = std::string(SP_BINARY_DIR) + "/bin/sp_train";
  ASSERT_TRUE(fs::exists(train)) << train;
  const std::string root = std::string(SP_BINARY_DIR) + "/test_tmp/cifar_epoch_gpu";
  fs::remove_all(root);
  fs::create_directories(root);
  nlohmann::json cfg = {
      {"seed", 3},
      {"num_shadows", 2},
      {"dataset", {{"name", "cifar10"}, {"path", images}}},
      {"model", {{"name", "resnet18"}, {"width", 16}}},
      {"recipe",
       {{"epochs", 1},
        {"batch_size", 256},
        {"optimizer", {{"name", "sgd"}, {"lr", 0.1}, {"momentum", 0.9}, {"nesterov", true}, {"weight_decay", 5e-4}}},
        {"augmentation", {{"crop_pad", 4}, {"flip", true}}}}},
      {"audit", {{"num_audit", 500}, {"population", 0}}},
      {"device", {{"tf32", false}, {"deterministic", true}, {"eval_batch", 1024}}}};
  std::ofstream(root + "/c.json") << cfg.dump(2);
  for (const char* device : {"cuda", "cpu"}) {
    const std::string dir = root + "/" + device;
    int rc = run(train + " " + root + "/c.json --out " + dir + " --shadow 0 --device " + device, dir + ".log");
    ASSERT_EQ(rc, 0) << device << ": see " << dir << ".log";
  }
  nlohmann::json g = metrics_of(root + "/cuda"), c = metrics_of(root + "/cpu");
  EXPECT_EQ(g["device"], "cuda:0");
  EXPECT_EQ(c["device"], "cpu");
  EXPECT_EQ(g["steps"], c["steps"]);
  const double gl = g["final_epoch_loss"], cl = c["final_epoch_loss"];
  std::printf("one CIFAR-10 epoch: loss GPU %.4f CPU %.4f, train acc %.4f / %.4f, test acc %.4f / %.4f, "
              "%.0f / %.0f img/s\n",
              gl, cl, double(g["final_epoch_accuracy"]), double(c["final_epoch_accuracy"]),
              double(g["test_accuracy"]), double(c["test_accuracy"]), double(g["images_per_s"]),
              double(c["images_per_s"]));
  EXPECT_NEAR(gl, cl, 0.03 * cl);
  EXPECT_NEAR(double(g["final_epoch_accuracy"]), double(c["final_epoch_accuracy"]), 0.015);
  // The test accuracy is the end point of the separated trajectory, not a mean over the epoch: looser.
  EXPECT_NEAR(double(g["test_accuracy"]), double(c["test_accuracy"]), 0.05);
  EXPECT_GT(double(g["test_accuracy"]), 0.2) << "one epoch of ResNet-18 learns CIFAR-10 well above chance";
  fs::remove_all(root);
}
