// The "diffusion" configuration section: a class-conditional DDPM trained from scratch on each shadow's private
// set D_k, whose generated images are all the audited classifier trains on (shared/reference/round2-methods.md
// §7). The top-level "model" and "recipe" are the audited classifier's.
//
//   "diffusion": {
//     "mode": "img2img" | "class",     // SDEdit from every private image, or n images per class from noise
//     "strength": 0.75,                // img2img: noise to t = strength * T, then denoise (§7.5)
//     "per_image": 1,                  // img2img: generated images per private image
//     "per_class": 500,                // class: generated images per class
//     "mix_real": false,               // also train the classifier on D_k itself
//     "unet": {"ch": 64, "ch_mult": [1, 2, 2], "num_res_blocks": 2, "attn_resolutions": [16], "dropout": 0.1,
//              "norm_groups": 32, "conditional": true},     // "preset": "ddpm" gives DDPM's 35.7 M model
//     "schedule": {"T": 1000, "beta_start": 1e-4, "beta_end": 0.02},
//     "train": {"steps": 50000, "batch": 128, "lr": 2e-4, "warmup": 5000, "grad_clip": 1.0, "ema": 0.9995,
//               "p_uncond": 0.1, "flip": true},
//     "sample": {"sampler": "ddim", "steps": 50, "eta": 0.0, "guidance": 1.0, "clip_x0": true, "batch": 256},
//     "lira": {"timesteps": [10, 50, 100, 200, 400], "noises": 2}  // the diffusion-model attack's fixed queries
//   }
//
// Tested in tests/test_diffusion_config.cpp.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "nn/models/ddpm_unet.h"
#include "paradigms/config.h"
#include "paradigms/diffusion/sampler.h"
#include "paradigms/json_fields.h"

namespace sp::diffusion {

enum class Mode { img2img, class_conditional };

struct TrainConfig {
  int64_t steps = 50000;
  int64_t batch = 128;
  double lr = 2e-4;
  int64_t warmup = 5000;   // linear learning-rate warm-up steps
  double grad_clip = 1.0;  // global norm; 0: off
  double ema = 0.9995;     // EMA decay of the weights (the EMA model samples)
  double p_uncond = 0.1;   // labels replaced by the null class (classifier-free guidance)
  bool flip = true;        // random horizontal flips
};

struct DiffusionConfig {
  Mode mode = Mode::img2img;
  double strength = 0.75;
  int64_t per_image = 1, per_class = 500;
  bool mix_real = false;
  models::UNetConfig unet;  // image size, channels and classes filled from the dataset
  bool conditional = true;
  int64_t T = 1000;
  double beta_start = 1e-4, beta_end = 0.02;
  TrainConfig train;
  SamplerConfig sample;     // null_label filled from the UNet
  int64_t sample_batch = 256;
  std::vector<int64_t> lira_timesteps{10, 50, 100, 200, 400};
  int64_t lira_noises = 2;
};

std::string mode_name(Mode m);

// Reads root["diffusion"] into c (problems into `errors` under their key paths); `out` gets the resolved section.
void read_diffusion(cfg::Fields& root, const RunConfig& run, DiffusionConfig& c, cfg::Errors& errors, nlohmann::json& out);

// The UNet configuration for this experiment's images (size, channels, classes).
models::UNetConfig unet_config(const DiffusionConfig& c, const RunConfig& run, int64_t channels, int64_t image_size);

}  // namespace sp::diffusion
