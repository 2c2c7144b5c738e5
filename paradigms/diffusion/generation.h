// What one shadow's DDPM generates for the audited classifier (shared/reference/round2-methods.md §7.5, paper
// protocol): in mode img2img, diffusion.per_image SDEdit outputs from every private image at the configured
// strength, conditioned on its training label (a canary keeps its flipped label); in mode class, diffusion.per_class
// images per class from noise with classifier-free guidance. The generated set is made in chunks of
// diffusion.sample.batch items, each a function of (key, chunk) only, so the chunks already written by an
// interrupted run are kept and the result has the same bytes. Output images are clamped to [-1, 1] and quantised
// to u8 as a PNG writer would. Tested in tests/test_diffusion_shadow.cpp.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "nn/models/ddpm_unet.h"
#include "paradigms/diffusion/diffusion_config.h"
#include "paradigms/diffusion/noise_schedule.h"
#include "paradigms/engine/device_data.h"

namespace sp::diffusion {

// One row per generated image: its conditioning label and, for img2img, the private-set position it came from.
struct GenerationPlan {
  std::vector<int64_t> labels;
  std::vector<int64_t> source;  // position in the private set, -1 for class generation
  int64_t size() const { return int64_t(labels.size()); }
};

// private_labels: D_k's training labels in private-set order.
GenerationPlan plan_generation(const DiffusionConfig& c, const std::vector<int64_t>& private_labels, int64_t classes);

// The predicted noise of the EMA UNet for sampling (no tape kept).
EpsFn eps_of(Stream& s, const models::Denoiser& unet, const Tensor& theta);

// Rows [lo, hi) of the plan as u8 [hi - lo, C, H, W] on the CPU. private_set: D_k's images (for img2img).
Tensor generate_rows(Stream& s, const models::Denoiser& unet, const Tensor& theta, const NoiseSchedule& ns,
                     const DiffusionConfig& c, const GenerationPlan& plan, const DeviceData& private_set, int64_t lo,
                     int64_t hi, uint64_t key);

// f32 images in [-1, 1] (any device) -> u8 on the CPU: round((x + 1) * 127.5) clamped to [0, 255].
Tensor quantize(Stream& s, const Tensor& x);

}  // namespace sp::diffusion
