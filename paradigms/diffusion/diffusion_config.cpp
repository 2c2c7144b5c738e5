// Parsing the "diffusion" configuration section (see diffusion_config.h). Tested in tests/test_diffusion_config.cpp.
#include "paradigms/diffusion/diffusion_config.h"

#include "kernels/error.h"

namespace sp::diffusion {

namespace {
const std::vector<std::string> kModes = {"img2img", "class"};
const std::vector<std::string> kSamplers = {"ddim", "ddpm"};
}  // namespace

std::string mode_name(Mode m) { return kModes[size_t(m)]; }

void read_diffusion(cfg::Fields& root, const RunConfig& run, DiffusionConfig& c, cfg::Errors& errors,
                    nlohmann::json& out) {
  (void)errors;
  cfg::Fields f = root.object("diffusion");
  c.mode = f.string("mode", "img2img", kModes) == "class" ? Mode::class_conditional : Mode::img2img;
  const bool img2img = c.mode == Mode::img2img;
  c.strength = f.number("strength", 0.75, 0, 1);
  c.per_image = f.integer("per_image", 1, 1, 1000);
  c.per_class = f.integer("per_class", 500, 1, 1 << 24);
  if (img2img) f.reject({"per_class"}, "only used by mode \"class\" (img2img makes diffusion.per_image per private image)");
  else f.reject({"strength", "per_image"}, "only used by mode \"img2img\"");
  c.mix_real = f.boolean("mix_real", false);

  // The UNet.
  cfg::Fields u = f.object("unet");
  const std::string preset = u.string("preset", "", {"", "ddpm"});
  models::UNetConfig d = preset == "ddpm" ? models::UNetConfig::ddpm_cifar10() : models::UNetConfig{};
  if (preset == "ddpm") u.reject({"ch", "ch_mult", "num_res_blocks", "attn_resolutions"}, "set by preset \"ddpm\"");
  d.ch = u.integer("ch", d.ch, 4, 4096);
  d.ch_mult = u.integers("ch_mult", d.ch_mult, 1);
  d.num_res_blocks = u.integer("num_res_blocks", d.num_res_blocks, 1, 8);
  d.attn_resolutions = u.integers("attn_resolutions", d.attn_resolutions, 1);
  d.dropout = u.number("dropout", d.dropout, 0, 0.99);
  d.norm_groups = u.integer("norm_groups", d.norm_groups, 1, 4096);
  c.conditional = u.boolean("conditional", true);
  u.finish();
  c.unet = d;
  c.unet.num_classes = c.conditional ? run.model.num_classes : 0;
  // Build it once now, so a shape it cannot take is reported with the configuration (32x32 RGB: the datasets'
  // size; the shadows rebuild it with the data's).
  try {
    (void)models::make_ddpm_unet(unet_config(c, run, 3, 32));
  } catch (const Error& e) {
    f.error("unet", e.what());
  }

  cfg::Fields s = f.object("schedule");
  c.T = s.integer("T", 1000, 2, 100000);
  c.beta_start = s.number("beta_start", 1e-4, 1e-12, 0.5);
  c.beta_end = s.number("beta_end", 0.02, 1e-12, 0.999);
  if (c.beta_end < c.beta_start) s.error("beta_end", "must be at least schedule.beta_start");
  s.finish();

  cfg::Fields t = f.object("train");
  TrainConfig& tr = c.train;
  tr.steps = t.integer("steps", 50000, 1, int64_t(1) << 40);
  tr.batch = t.integer("batch", 128, 1, 1 << 20);
  tr.lr = t.number("lr", 2e-4, 0);
  tr.warmup = t.integer("warmup", 5000, 0, int64_t(1) << 40);
  tr.grad_clip = t.number("grad_clip", 1.0, 0);
  tr.ema = t.number("ema", 0.9995, 0, 1);
  tr.p_uncond = t.number("p_uncond", c.conditional ? 0.1 : 0.0, 0, 1);
  if (!c.conditional && tr.p_uncond > 0)
    t.error("p_uncond", "an unconditional UNet (diffusion.unet.conditional false) has no null class to drop labels to");
  tr.flip = t.boolean("flip", true);
  t.finish();

  cfg::Fields p = f.object("sample");
  SamplerConfig& sc = c.sample;
  sc.kind = p.string("sampler", "ddim", kSamplers) == "ddpm" ? SamplerKind::ddpm : SamplerKind::ddim;
  sc.steps = p.integer("steps", 50, 1, int64_t(1) << 40);
  if (sc.steps > c.T)
    p.error("steps", std::to_string(sc.steps) + " DDIM steps are more than the schedule's T = " + std::to_string(c.T));
  if (sc.kind == SamplerKind::ddpm) p.reject({"eta"}, "only used by the ddim sampler");
  sc.eta = p.number("eta", 0.0, 0, 10);
  sc.guidance = p.number("guidance", c.conditional ? 1.0 : 0.0, 0, 100);
  if (!c.conditional && sc.guidance != 0)
    p.error("guidance", "a guidance weight needs a conditional UNet with a null class (diffusion.unet.conditional is false)");
  if (c.conditional && sc.guidance != 0 && tr.p_uncond == 0)
    p.error("guidance", "a guidance weight needs the null class trained: set diffusion.train.p_uncond > 0");
  sc.clip_x0 = p.boolean("clip_x0", true);
  c.sample_batch = p.integer("batch", 256, 1, 1 << 20);
  p.finish();
  sc.null_label = c.conditional ? run.model.num_classes : -1;
  if (!c.conditional && !img2img)
    f.error("mode", "\"class\" generation needs a conditional UNet (diffusion.unet.conditional is false)");

  cfg::Fields l = f.object("lira");
  c.lira_timesteps = l.integers("timesteps", {10, 50, 100, 200, 400}, 0);
  for (int64_t v : c.lira_timesteps)
    if (v >= c.T) l.error("timesteps", "timestep " + std::to_string(v) + " is not below the schedule's T = " + std::to_string(c.T));
  if (c.lira_timesteps.empty()) l.error("timesteps", "needs at least one timestep");
  c.lira_noises = l.integer("noises", 2, 1, 1000);
  l.finish();
  f.finish();

  nlohmann::json unet = {{"ch", d.ch}, {"ch_mult", d.ch_mult}, {"num_res_blocks", d.num_res_blocks},
                         {"attn_resolutions", d.attn_resolutions}, {"dropout", d.dropout},
                         {"norm_groups", d.norm_groups}, {"conditional", c.conditional}};
  out = {{"mode", mode_name(c.mode)},
         {"mix_real", c.mix_real},
         {"unet", unet},
         {"schedule", {{"T", c.T}, {"beta_start", c.beta_start}, {"beta_end", c.beta_end}}},
         {"train", {{"steps", tr.steps}, {"batch", tr.batch}, {"lr", tr.lr}, {"warmup", tr.warmup},
                    {"grad_clip", tr.grad_clip}, {"ema", tr.ema}, {"p_uncond", tr.p_uncond}, {"flip", tr.flip}}},
         {"sample", {{"sampler", sc.kind == SamplerKind::ddpm ? "ddpm" : "ddim"}, {"steps", sc.steps},
                     {"guidance", sc.guidance}, {"clip_x0", sc.clip_x0}, {"batch", c.sample_batch}}},
         {"lira", {{"timesteps", c.lira_timesteps}, {"noises", c.lira_noises}}}};
  if (sc.kind == SamplerKind::ddim) out["sample"]["eta"] = sc.eta;
  if (img2img) {
    out["strength"] = c.strength;
    out["per_image"] = c.per_image;
  } else {
    out["per_class"] = c.per_class;
  }
}

models::UNetConfig unet_config(const DiffusionConfig& c, const RunConfig& run, int64_t channels, int64_t image_size) {
  models::UNetConfig u = c.unet;
  u.channels = channels;
  u.image_size = image_size;
  u.num_classes = c.conditional ? run.model.num_classes : 0;
  return u;
}

}  // namespace sp::diffusion
