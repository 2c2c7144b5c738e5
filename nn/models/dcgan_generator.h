// The DCGAN-style image generator of Fast DFKD (Fang et al. 2022), a non-classifier Network: a latent
// z [N, nz] -> linear to ngf*2 x (size/4)^2 -> BN -> 2x nearest upsample -> 3x3 conv -> BN -> leaky ReLU(0.2)
// -> 2x upsample -> 3x3 conv -> BN -> leaky ReLU(0.2) -> 3x3 conv (bias) -> sigmoid, giving images
// [N, channels, size, size] in [0, 1]. Parameter names are the reference's nn.Sequential indices
// (l1.0, conv_blocks.{0,2,3,6,7,9}) so its safetensors files load into the PyTorch class. Tested in
// tests/test_layer_builder.cpp (names, count, initialisation, forward and backward shapes).
#pragma once
#include <memory>

#include "nn/module.h"

namespace sp::models {

struct GeneratorConfig {
  int64_t latent = 100;     // nz
  int64_t width = 64;       // ngf
  int64_t image_size = 32;  // a multiple of 4
  int64_t channels = 3;
};

// Throws sp::Error naming the generator for a non-positive size or an image size not divisible by 4.
std::unique_ptr<Network> make_dcgan_generator(const GeneratorConfig& cfg);

}  // namespace sp::models
