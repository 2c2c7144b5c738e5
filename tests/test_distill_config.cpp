// The "distill" configuration section: every method parses with the upstream CIFAR-10 defaults (DC/DSA loop
// counts by images per class, DM's lr_img by IPC, DSA and the evaluation augmentation per method), the resolved
// form parses back, the shipped configs/distill_*.json parse, and mistakes (unknown method, init or DSA op, an
// IPC without upstream loop counts, OOD init without a set or with a malformed spec, keys a method does not
// use, DSA on for DC, a distill section under another paradigm) are reported with their key paths before any
// work.
#include <cmath>
#include <filesystem>

#include "paradigms/config.h"
#include "paradigms/distill/distill_config.h"
#include "tests/config_test_util.h"
#include "tests/test_util.h"

using namespace sp;
using distill::DistillConfig;
using distill::Method;

namespace {

std::string with_distill(const std::string& section, const std::string& paradigm = "distill") {
  return R"({
  "paradigm": ")" + paradigm + R"(",
  "dataset": {"name": "shapes10", "train": 300, "test": 50},
  "model": {"name": "convnet3", "width": 8},
  "recipe": {"epochs": 6, "batch_size": 32, "optimizer": {"name": "sgd", "lr": 0.01}},
  "audit": {"num_audit": 20})" + (section.empty() ? "" : ",\n  \"distill\": " + section) + "\n}";
}

const DistillConfig& dc(const RunConfig& c) { return c.settings<DistillConfig>(); }
std::string problems(const std::string& text) { return test::config_problems(text); }
using test::expect_has;

}  // namespace

TEST(DistillConfig, MethodsParseWithUpstreamDefaults) {
  RunConfig c = parse_config_text(with_distill(R"({"method": "dc", "ipc": 10})"));
  EXPECT_EQ(c.paradigm, "distill");
  EXPECT_EQ(dc(c).method, Method::dc);
  EXPECT_EQ(dc(c).iterations, 1000);
  EXPECT_DOUBLE_EQ(dc(c).lr_img, 0.1);
  EXPECT_DOUBLE_EQ(dc(c).momentum_img, 0.5);
  EXPECT_DOUBLE_EQ(dc(c).lr_net, 0.01);
  EXPECT_EQ(dc(c).outer_loop, 10);
  EXPECT_EQ(dc(c).inner_loop, 50);
  EXPECT_EQ(dc(c).batch_real, 256);
  EXPECT_EQ(dc(c).batch_train, 256);
  EXPECT_EQ(dc(c).init, distill::Init::real);
  EXPECT_FALSE(dc(c).dsa);
  EXPECT_EQ(dc(c).train_augment, distill::TrainAugment::none) << "DC evaluates without augmentation";
  EXPECT_EQ(dc(c).net.name, "convnet3");
  EXPECT_EQ(dc(c).net.width, 128);

  c = parse_config_text(with_distill(R"({"method": "dc", "ipc": 1})"));
  EXPECT_EQ(dc(c).outer_loop, 1);
  EXPECT_EQ(dc(c).inner_loop, 1);
  c = parse_config_text(with_distill(R"({"method": "dsa", "ipc": 50})"));
  EXPECT_EQ(dc(c).outer_loop, 50);
  EXPECT_EQ(dc(c).inner_loop, 10);
  EXPECT_TRUE(dc(c).dsa);
  EXPECT_EQ(dc(c).strategy.size(), 6u) << "color_crop_cutout_flip_scale_rotate";
  EXPECT_EQ(dc(c).train_augment, distill::TrainAugment::dsa);

  c = parse_config_text(with_distill(R"({"method": "dm", "ipc": 50})"));
  EXPECT_EQ(dc(c).iterations, 20000);
  EXPECT_DOUBLE_EQ(dc(c).lr_img, 1.0) << "DM: lr_img 1 for IPC <= 50";
  c = parse_config_text(with_distill(R"({"method": "dm", "ipc": 100, "init": "noise", "net": {"name": "resnet18", "width": 4}})"));
  EXPECT_DOUBLE_EQ(dc(c).lr_img, 10.0) << "DM: lr_img 10 for IPC >= 100";
  EXPECT_EQ(dc(c).init, distill::Init::noise);
  EXPECT_EQ(dc(c).net.name, "resnet18");
  EXPECT_FALSE(c.resolved["distill"].contains("outer_loop"));

  c = parse_config_text(with_distill(R"({"method": "dsa", "ipc": 1000, "outer_loop": 5, "inner_loop": 2, "init": "ood",
                                       "ood_data": "folder:/somewhere", "dsa_strategy": "crop_flip"})"));
  EXPECT_EQ(dc(c).outer_loop, 5);
  EXPECT_EQ(dc(c).ood_data, "folder:/somewhere");
  EXPECT_EQ(dc(c).strategy.size(), 2u);
  // The resolved form parses to the same configuration.
  EXPECT_EQ(parse_config(c.resolved).resolved, c.resolved);
}

TEST(DistillConfig, MistakesNameTheirKeyPaths) {
  std::string m = problems(with_distill(R"({"method": "kip", "ipc": 10})"));
  expect_has(m, "distill.method");
  m = problems(with_distill(R"({"ipc": 0, "init": "imagenet", "itrations": 3})"));
  expect_has(m, "distill.method: missing (required)");
  expect_has(m, "distill.ipc");
  expect_has(m, "distill.init");
  expect_has(m, "distill.itrations: unknown key (did you mean 'iterations'?)");
  m = problems(with_distill(R"({"method": "dc", "ipc": 20})"));
  expect_has(m, "distill.outer_loop: required for ipc 20");
  expect_has(m, "distill.inner_loop: required for ipc 20");
  m = problems(with_distill(R"({"method": "dm", "ipc": 10, "outer_loop": 3, "lr_net": 0.1})"));
  expect_has(m, "distill.outer_loop: not used by method dm");
  expect_has(m, "distill.lr_net: not used by method dm");
  m = problems(with_distill(R"({"method": "dc", "ipc": 10, "dsa": true})"));
  expect_has(m, "distill.dsa: method dc matches without augmentation");
  m = problems(with_distill(R"({"method": "dsa", "ipc": 10, "dsa_strategy": "color_zoom"})"));
  expect_has(m, "distill.dsa_strategy");
  expect_has(m, "zoom");
  m = problems(with_distill(R"({"method": "dm", "ipc": 10, "init": "ood"})"));
  expect_has(m, "distill.ood_data: missing (required)");
  m = problems(with_distill(R"({"method": "dm", "ipc": 10, "init": "ood", "ood_data": "imagenet:/x"})"));
  expect_has(m, "distill.ood_data");
  expect_has(m, "folder:DIR");
  m = problems(with_distill(R"({"method": "dm", "ipc": 10, "ood_data": "folder:/x"})"));
  expect_has(m, "distill.ood_data: only used by init ood");
  m = problems(with_distill(R"({"method": "dm", "ipc": 10, "net": {"name": "vgg"}, "train_augment": "crop"})"));
  expect_has(m, "distill.net.name");
  expect_has(m, "distill.train_augment");
  // Its section under another paradigm, and the paradigm without its section.
  expect_has(problems(with_distill(R"({"method": "dm", "ipc": 10})", "baseline")), "distill: only used by paradigm distill");
  expect_has(problems(with_distill("")), "distill.method: missing (required)");
}

TEST(DistillConfig, ShippedConfigsParse) {
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator(std::string(SP_SOURCE_DIR) + "/configs")) {
    const std::string name = e.path().filename().string();
    if (name.rfind("distill", 0) != 0) continue;
    RunConfig c = load_config(e.path().string());
    EXPECT_EQ(c.paradigm, "distill") << name;
    ++n;
  }
  EXPECT_GE(n, 4) << "configs/distill_*.json";
}

TEST(DistillConfig, TrajectoryMethodsTakeUpstreamSettingsByIpc) {
  RunConfig c = parse_config_text(with_distill(R"({"method": "mtt", "ipc": 10})"));
  EXPECT_EQ(dc(c).method, Method::mtt);
  EXPECT_EQ(dc(c).iterations, 5000);
  EXPECT_EQ(dc(c).syn_steps, 30);
  EXPECT_EQ(dc(c).expert_epochs, 2);
  EXPECT_EQ(dc(c).max_start_epoch, 20);
  EXPECT_DOUBLE_EQ(dc(c).lr_img, 1000);
  EXPECT_DOUBLE_EQ(dc(c).lr_lr, 1e-5);
  EXPECT_DOUBLE_EQ(dc(c).lr_teacher, 0.01);
  EXPECT_TRUE(dc(c).zca);
  EXPECT_DOUBLE_EQ(dc(c).zca_eps, 0.1);
  EXPECT_TRUE(dc(c).dsa) << "per-sample DSA in the student steps";
  EXPECT_EQ(dc(c).init, distill::Init::real);
  EXPECT_EQ(dc(c).batch_syn, 0) << "the whole set per step";
  EXPECT_FALSE(dc(c).soft_labels);
  EXPECT_EQ(dc(c).experts.count, 100);
  EXPECT_EQ(dc(c).experts.epochs, 50);
  EXPECT_FALSE(dc(c).experts.gsam);
  EXPECT_EQ(dc(c).meta_gradient, MetaGradMode::adjoint);
  EXPECT_TRUE(std::isinf(dc(c).threshold)) << "MTT has no gate";
  c = parse_config_text(with_distill(R"({"method": "mtt", "ipc": 50})"));
  EXPECT_FALSE(dc(c).zca) << "MTT's IPC 50 runs without ZCA";
  EXPECT_EQ(dc(c).max_start_epoch, 40);
  c = parse_config_text(with_distill(R"({"method": "mtt", "ipc": 1})"));
  EXPECT_EQ(dc(c).syn_steps, 50);
  EXPECT_DOUBLE_EQ(dc(c).lr_lr, 1e-7);

  c = parse_config_text(with_distill(R"({"method": "datm", "ipc": 10})"));
  EXPECT_EQ(dc(c).method, Method::datm);
  EXPECT_EQ(dc(c).iterations, 10000);
  EXPECT_EQ(dc(c).syn_steps, 80);
  EXPECT_DOUBLE_EQ(dc(c).lr_img, 100);
  EXPECT_DOUBLE_EQ(dc(c).lr_y, 2);
  EXPECT_DOUBLE_EQ(dc(c).momentum_y, 0.9);
  EXPECT_DOUBLE_EQ(dc(c).threshold, 1.0);
  EXPECT_TRUE(dc(c).soft_labels);
  EXPECT_EQ(dc(c).init, distill::Init::samples_predicted_correctly);
  EXPECT_TRUE(dc(c).sequential_generation);
  EXPECT_EQ(dc(c).current_max_start_epoch, 10);
  EXPECT_EQ(dc(c).max_start_epoch, 20);
  EXPECT_EQ(dc(c).expansion_end_epoch, 1000);
  EXPECT_EQ(dc(c).start_epoch_upper(0), 10);
  EXPECT_EQ(dc(c).start_epoch_upper(500), 15);
  EXPECT_EQ(dc(c).start_epoch_upper(1000), 20);
  EXPECT_EQ(dc(c).start_epoch_upper(5000), 20);
  EXPECT_EQ(dc(c).experts.epochs, 100);
  EXPECT_TRUE(dc(c).experts.gsam);
  EXPECT_DOUBLE_EQ(dc(c).experts.rho, 0.01);
  EXPECT_DOUBLE_EQ(dc(c).experts.alpha, 0.3);
  c = parse_config_text(with_distill(R"({"method": "datm", "ipc": 1000})"));
  EXPECT_FALSE(dc(c).sequential_generation);
  EXPECT_EQ(dc(c).min_start_epoch, 40);
  EXPECT_EQ(dc(c).max_start_epoch, 60);
  EXPECT_EQ(dc(c).syn_steps, 100);
  EXPECT_EQ(dc(c).batch_syn, 1000);
  c = parse_config_text(with_distill(R"({"method": "datm", "ipc": 1})"));
  EXPECT_DOUBLE_EQ(dc(c).threshold, 1.1);
  EXPECT_EQ(dc(c).batch_syn, 0) << "10 of 10 images: the whole set";
  // The resolved form parses back to the same settings.
  RunConfig again = parse_config_text(with_distill(c.resolved["distill"].dump()));
  EXPECT_EQ(dc(again).syn_steps, dc(c).syn_steps);
  EXPECT_DOUBLE_EQ(dc(again).threshold, dc(c).threshold);
  EXPECT_EQ(dc(again).experts.storage, dc(c).experts.storage);
}

TEST(DistillConfig, TrajectoryMistakesNameTheirKeys) {
  // A start-epoch window the stored trajectory cannot hold.
  expect_has(problems(with_distill(R"({"method": "mtt", "ipc": 10, "experts": {"epochs": 20}})")),
             "distill.experts.epochs: 20 stored epochs cannot hold the start-epoch window");
  expect_has(problems(with_distill(R"({"method": "mtt", "ipc": 10, "min_start_epoch": 20})")),
             "distill.min_start_epoch: must be below max_start_epoch");
  expect_has(problems(with_distill(R"({"method": "datm", "ipc": 10, "current_max_start_epoch": 30})")),
             "distill.current_max_start_epoch: must not exceed max_start_epoch");
  expect_has(problems(with_distill(R"({"method": "datm", "ipc": 7})")), "distill.syn_steps: required for datm at ipc 7");
  expect_has(problems(with_distill(R"({"method": "mtt", "ipc": 10, "batch_syn": 101})")),
             "distill.batch_syn: 101 exceeds the synthetic set's 100 images");
  expect_has(problems(with_distill(R"({"method": "mtt", "ipc": 10, "lr_y": 2})")), "distill.lr_y: ");
  expect_has(problems(with_distill(R"({"method": "mtt", "ipc": 10, "batch_real": 2})")), "distill.batch_real: ");
  expect_has(problems(with_distill(R"({"method": "mtt", "ipc": 10, "meta_gradient": "plain"})")), "distill.meta_gradient");
  expect_has(problems(with_distill(R"({"method": "mtt", "ipc": 10, "experts": {"storage": "bf16"}})")),
             "distill.experts.storage");
  expect_has(problems(with_distill(R"({"method": "mtt", "ipc": 10, "experts": {"rho": 0.1}})")), "distill.experts.rho: ");
  expect_has(problems(with_distill(R"({"method": "mtt", "ipc": 10, "experts": {"epochs": 50, "epoch": 3}})")),
             "distill.experts.epoch");
  expect_has(problems(with_distill(R"({"method": "dm", "ipc": 10, "syn_steps": 3})")), "distill.syn_steps: ");
  expect_has(problems(with_distill(R"({"method": "dm", "ipc": 10, "init": "samples_predicted_correctly"})")),
             "distill.init: samples_predicted_correctly needs expert trajectories");
  expect_has(problems(with_distill(R"({"method": "mtt", "ipc": 10, "label_expert_epoch": 51})")),
             "distill.label_expert_epoch: beyond the experts' 50 epochs");
}
