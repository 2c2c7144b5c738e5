// The DDPM UNet for 32x32 images (the noise predictor eps(x_t, t, y) of the diffusion paradigm), as in
// shared/reference/round2-methods.md §7.1: a sinusoidal timestep embedding through an MLP (temb), plus a learned
// class embedding with a null class for classifier-free guidance (§7.4); conv_in; per resolution level
// `num_res_blocks` residual blocks (GroupNorm(eps 1e-6) + SiLU + 3x3 conv, the time embedding added per channel,
// dropout before the second conv, a 1x1 "nin" shortcut when the width changes), single-head self-attention after
// every block at the listed resolutions, and a stride-2 downsampling conv with DDPM's right/bottom-only padding;
// a middle of block, attention, block; the decoder's num_res_blocks + 1 blocks per level over the concatenated skip
// connections, nearest x2 upsampling and a 3x3 conv; GroupNorm, SiLU and conv_out. TensorFlow's initialisation:
// variance_scaling(1, fan_avg, uniform), zero biases, and zero for each block's second conv, the attention output
// projection and conv_out, so a fresh UNet predicts 0. Parameter names are those of the ddim PyTorch port
// (temb.dense.0, down.0.block.1.conv1, mid.attn_1.q, up.2.upsample.conv, ...) plus label_emb.weight. Tested in
// tests/test_ddpm_unet.cpp (names and counts, 35.7 M for DDPM's CIFAR-10 configuration, a finite-difference
// gradient check at tiny width, conditioning, dropout, bad input).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "nn/module.h"

namespace sp::models {

struct UNetConfig {
  int64_t ch = 64;                           // channels at full resolution; time embedding 4 ch
  std::vector<int64_t> ch_mult{1, 2, 2};     // channel multiplier per resolution level (one level per entry)
  int64_t num_res_blocks = 2;                // encoder blocks per level (the decoder has one more)
  std::vector<int64_t> attn_resolutions{16};  // self-attention after the blocks at these resolutions
  double dropout = 0.1;
  int64_t norm_groups = 32;                  // GroupNorm groups; must divide every width
  int64_t image_size = 32;                   // divisible by 2^(levels - 1)
  int64_t channels = 3;
  int64_t num_classes = 10;                  // 0: unconditional (no label embedding)
  // The 35.7 M-parameter configuration of DDPM's CIFAR-10 model.
  static UNetConfig ddpm_cifar10();
};

// What a forward pass is conditioned on, one entry per image.
struct DenoiseArgs {
  std::vector<double> t;         // timesteps (0-indexed, as floats for the sinusoid)
  std::vector<int64_t> labels;   // class labels; num_classes is the null class; empty for an unconditional UNet
  bool training = false;         // dropout on
  uint64_t dropout_key = 0;      // dropout masks from Philox (key, dropout_stream, site): reproducible per step
  uint64_t dropout_stream = 0;
};

class Denoiser : public Module {
 public:
  // The predicted noise [N, C, H, W] for noisy images x [N, C, H, W] in theta's dtype and device.
  virtual Var denoise(Tape& t, Var theta, Var x, const DenoiseArgs& a) const = 0;
  virtual const UNetConfig& config() const = 0;
  // The label that means "no class" (classifier-free guidance): num_classes. -1 for an unconditional UNet.
  int64_t null_label() const { return config().num_classes > 0 ? config().num_classes : -1; }
};

// Throws sp::Error naming the setting ("unet.ch", "unet.ch_mult", ...) for a configuration it cannot build.
std::unique_ptr<Denoiser> make_ddpm_unet(const UNetConfig& cfg);

}  // namespace sp::models
