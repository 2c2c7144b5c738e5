// A distilled (synthetic) training set and its files:
//   synthetic.safetensors  "images" f32 [N, C, H, W] in the model's input normalisation (what the audited
//                          model is fed), "labels" i64 [N], optionally "soft_labels" f32 [N, classes]; metadata
//                          records the method, images per class and the normalisation, so the set loads in
//                          PyTorch with safetensors.torch.load_file;
//   *.png                  a grid, one row per class (denormalised, clamped to [0, 255]), where chosen images
//                          can be framed in red (the canaries among the initial images).
// Reading validates shapes, dtypes, label ranges and finite pixels, naming the file. Tested in
// tests/test_distill.cpp (round trip, corrupt files, grid geometry).
#pragma once
#include <map>
#include <string>
#include <vector>

#include "data/augment.h"
#include "kernels/tensor.h"

namespace sp::distill {

struct SyntheticSet {
  Tensor images;  // f32 [N, C, H, W], CPU
  Tensor labels;  // i64 [N], CPU
  Tensor soft;    // f32 [N, classes] or undefined
};

void save_synthetic(const std::string& path, const SyntheticSet& set, const std::map<std::string, std::string>& metadata);
// Throws naming the file when it is not a valid synthetic set of `classes` classes of c x h x w images.
SyntheticSet load_synthetic(const std::string& path, int64_t classes, int64_t c, int64_t h, int64_t w);

// The grid of images [N, C, H, W] (any device, normalised with `norm`) laid out by label: row k holds the
// images of class k in order; `framed[i]` draws a red frame around image i. Written atomically as PNG.
void save_synthetic_grid(const std::string& path, const Tensor& images, const std::vector<int64_t>& labels,
                         int64_t classes, const data::Normalization& norm, const std::vector<bool>& framed = {},
                         int scale = 2, Stream& s = Stream::cpu());

}  // namespace sp::distill
