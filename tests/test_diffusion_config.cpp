// The "diffusion" configuration section (paradigms/diffusion/diffusion_config.h): every mistake named by its key
// path before any work (a strength outside [0, 1], a guidance weight with an unconditional UNet, more DDIM steps
// than T, a UNet it cannot build, keys of the other mode), the reference defaults (round2-methods.md §7), and the
// shipped configurations.
#include <gtest/gtest.h>

#include <filesystem>

#include "paradigms/diffusion/diffusion_config.h"
#include "tests/config_test_util.h"

using namespace sp;
using sp::test::config_problems;
using sp::test::expect_has;
namespace fs = std::filesystem;

namespace {

std::string with_diffusion(const std::string& section) {
  return std::string(R"({"paradigm": "diffusion", "num_shadows": 4,
    "dataset": {"name": "shapes10", "train": 200, "test": 50},
    "model": {"name": "resnet18", "width": 8},
    "recipe": {"epochs": 3, "batch_size": 32, "optimizer": {"name": "sgd", "lr": 0.1, "momentum": 0.9}},
    "audit": {"num_audit": 20})") +
         (section.empty() ? std::string() : ", \"diffusion\": " + section) + "}";
}

}  // namespace

TEST(DiffusionConfig, MistakesNameTheirKeyPaths) {
  expect_has(config_problems(with_diffusion(R"({"strength": 1.5})")), "diffusion.strength:");
  expect_has(config_problems(with_diffusion(R"({"strength": -0.1})")), "diffusion.strength:");
  expect_has(config_problems(with_diffusion(R"({"mode": "text"})")), "diffusion.mode: 'text' is not one of img2img, class");
  expect_has(config_problems(with_diffusion(R"({"mode": "class", "strength": 0.5})")),
             "diffusion.strength: only used by mode \"img2img\"");
  expect_has(config_problems(with_diffusion(R"({"per_class": 5})")), "diffusion.per_class: only used by mode \"class\"");
  expect_has(config_problems(with_diffusion(R"({"unet": {"conditional": false}, "sample": {"guidance": 2}})")),
             "diffusion.sample.guidance: a guidance weight needs a conditional UNet");
  expect_has(config_problems(with_diffusion(R"({"unet": {"conditional": false}, "train": {"p_uncond": 0.1}})")),
             "diffusion.train.p_uncond: an unconditional UNet");
  expect_has(config_problems(with_diffusion(R"({"unet": {"conditional": false}, "mode": "class"})")),
             "diffusion.mode: \"class\" generation needs a conditional UNet");
  expect_has(config_problems(with_diffusion(R"({"train": {"p_uncond": 0}, "sample": {"guidance": 1}})")),
             "diffusion.sample.guidance: a guidance weight needs the null class trained");
  expect_has(config_problems(with_diffusion(R"({"sample": {"steps": 1001}})")),
             "diffusion.sample.steps: 1001 DDIM steps are more than the schedule's T = 1000");
  expect_has(config_problems(with_diffusion(R"({"schedule": {"T": 20}, "sample": {"steps": 25}})")),
             "diffusion.sample.steps: 25 DDIM steps are more than the schedule's T = 20");
  expect_has(config_problems(with_diffusion(R"({"sample": {"sampler": "ddpm", "eta": 1}})")),
             "diffusion.sample.eta: only used by the ddim sampler");
  expect_has(config_problems(with_diffusion(R"({"unet": {"ch": 48}})")), "diffusion.unet: ");
  expect_has(config_problems(with_diffusion(R"({"unet": {"ch": 48}})")), "unet.norm_groups 32 does not divide");
  expect_has(config_problems(with_diffusion(R"({"unet": {"attn_resolutions": [4]}})")), "unet.attn_resolutions entry 4");
  expect_has(config_problems(with_diffusion(R"({"unet": {"preset": "ddpm", "ch": 64}})")),
             "diffusion.unet.ch: set by preset \"ddpm\"");
  expect_has(config_problems(with_diffusion(R"({"lira": {"timesteps": [1000]}})")),
             "diffusion.lira.timesteps: timestep 1000 is not below");
  expect_has(config_problems(with_diffusion(R"({"train": {"stpes": 10}})")),
             "diffusion.train.stpes: unknown key (did you mean 'steps'?)");
  expect_has(config_problems(with_diffusion(R"({"schedule": {"beta_start": 0.1, "beta_end": 0.01}})")),
             "diffusion.schedule.beta_end: must be at least");
  expect_has(config_problems(std::string(R"({"paradigm": "baseline", "dataset": {"name": "shapes10"}, "model": {"name": "resnet18"},
    "recipe": {"epochs": 1}, "diffusion": {}})")),
             "diffusion: only used by paradigm diffusion");
}

TEST(DiffusionConfig, DefaultsAreTheReferences) {
  RunConfig c = parse_config_text(with_diffusion(""));
  const auto& d = c.settings<diffusion::DiffusionConfig>();
  EXPECT_EQ(d.mode, diffusion::Mode::img2img);
  EXPECT_DOUBLE_EQ(d.strength, 0.75);
  EXPECT_EQ(d.per_image, 1);
  EXPECT_FALSE(d.mix_real);
  EXPECT_EQ(d.unet.ch, 64);
  EXPECT_EQ(d.unet.ch_mult, (std::vector<int64_t>{1, 2, 2}));
  EXPECT_EQ(d.unet.num_res_blocks, 2);
  EXPECT_EQ(d.unet.attn_resolutions, (std::vector<int64_t>{16}));
  EXPECT_DOUBLE_EQ(d.unet.dropout, 0.1);
  EXPECT_EQ(d.unet.num_classes, 10);
  EXPECT_EQ(d.T, 1000);
  EXPECT_DOUBLE_EQ(d.beta_start, 1e-4);
  EXPECT_DOUBLE_EQ(d.beta_end, 0.02);
  EXPECT_DOUBLE_EQ(d.train.lr, 2e-4);
  EXPECT_EQ(d.train.warmup, 5000);
  EXPECT_DOUBLE_EQ(d.train.grad_clip, 1.0);
  EXPECT_DOUBLE_EQ(d.train.p_uncond, 0.1);
  EXPECT_EQ(d.train.batch, 128);
  EXPECT_EQ(d.sample.kind, diffusion::SamplerKind::ddim);
  EXPECT_EQ(d.sample.steps, 50);
  EXPECT_DOUBLE_EQ(d.sample.eta, 0.0);
  EXPECT_EQ(d.sample.null_label, 10);
  EXPECT_EQ(c.resolved["diffusion"]["strength"], 0.75);

  RunConfig p = parse_config_text(with_diffusion(R"({"mode": "class", "per_class": 7, "unet": {"preset": "ddpm"}})"));
  const auto& q = p.settings<diffusion::DiffusionConfig>();
  EXPECT_EQ(q.unet.ch, 128);
  EXPECT_EQ(q.unet.ch_mult, (std::vector<int64_t>{1, 2, 2, 2}));
  EXPECT_EQ(q.per_class, 7);
  EXPECT_FALSE(p.resolved["diffusion"].contains("strength"));
}

TEST(DiffusionConfig, ShippedConfigsParse) {
  int n = 0;
  for (const auto& e : fs::directory_iterator(std::string(SP_SOURCE_DIR) + "/configs")) {
    const std::string name = e.path().filename().string();
    if (name.rfind("diffusion_", 0) != 0) continue;
    SCOPED_TRACE(name);
    RunConfig c = load_config(e.path().string());
    EXPECT_EQ(c.paradigm, "diffusion");
    ++n;
  }
  EXPECT_GE(n, 5);
  for (const char* mode : {"img2img", "class"}) {
    RunConfig paper = load_config(std::string(SP_SOURCE_DIR) + "/configs/diffusion_" + mode + "_cifar10.json");
    EXPECT_EQ(paper.num_shadows, 32);
    EXPECT_EQ(paper.resolved["diffusion"]["mode"], mode);
  }
}
