// A small UNet denoiser for diffusion (the noise predictor eps(x_t, t)), a Module built on LayerBuilder like
// the classifiers and the generator: a sinusoidal embedding of the timestep through time_mlp (linear, SiLU,
// linear); inc (3x3 conv) to `width` channels; one stride-2 down block and a middle block at 2 x width; a 2x
// nearest upsampling concatenated with the full-resolution skip; out (GN, SiLU, 3x3 conv) back to the image
// channels. Every block is group norm -> SiLU -> 3x3 conv plus a per-channel projection of the time
// embedding (<block>.time). Parameter names are module paths as a PyTorch definition of the same layers has
// them (time_mlp.0.weight, down.conv.weight, ...). Tested in tests/test_layer_builder.cpp (names, count,
// shapes, the timestep changes the output, gradients reach every parameter, bad input).
#pragma once
#include <memory>

#include "nn/module.h"

namespace sp::models {

struct UNetConfig {
  int64_t width = 32;       // channels at full resolution (a multiple of 4)
  int64_t image_size = 32;  // even
  int64_t channels = 3;
};

class Denoiser : public Module {
 public:
  // The predicted noise [N, C, H, W] for noisy images x [N, C, H, W] at integer timesteps (i64 [N], host).
  virtual Var denoise(Tape& t, Var theta, const Tensor& buffers, Var x, const std::vector<int64_t>& timesteps,
                      bool training) const = 0;
};

// Throws sp::Error naming the UNet for a width that is not a positive multiple of 4 or an odd image size.
std::unique_ptr<Denoiser> make_tiny_unet(const UNetConfig& cfg);

}  // namespace sp::models
