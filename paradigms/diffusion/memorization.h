// Memorisation made visible: for each query image (the audit samples), the nearest generated image in pixel
// space and its distance, the root-mean-square pixel difference on the [0, 1] scale (0: identical images; one
// GEMM per chunk of generated images, |a|^2 + |g|^2 - 2 a.g, on the stream's device); and a PNG of query /
// nearest-generated pairs. Tested in tests/test_diffusion_train.cpp (an exact copy is found at distance 0,
// against a brute-force loop) and tests/test_diffusion_shadow.cpp.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/tensor.h"

namespace sp::diffusion {

struct Nearest {
  std::vector<int64_t> index;    // per query: the nearest generated image
  std::vector<double> distance;  // its RMS pixel distance in [0, 1]
};

// queries, generated: u8 [M, C, H, W] and [N, C, H, W] (any device, same C, H, W; N >= 1).
Nearest nearest_generated(Stream& s, const Tensor& queries, const Tensor& generated);

// A grid PNG of pairs: for each group (e.g. IN canaries, OUT canaries) a row of query images over a row of the
// images paired with them, upscaled by `scale`, a grey gutter between images and a wider one between groups.
// queries[g] and partners[g]: u8 [n_g, C, H, W] on the CPU, n_g <= 16 shown. Written atomically.
void write_pair_grid(const std::string& path, const std::vector<Tensor>& queries, const std::vector<Tensor>& partners,
                     int scale = 2);

}  // namespace sp::diffusion
