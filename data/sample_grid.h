// PNG output for looking at data: one [C, H, W] uint8 image, or a grid of dataset samples (one row per
// class, optionally upscaled) to check a generated or loaded dataset by eye. Encoded by data/png.h.
// Tested in tests/test_data_image_folder.cpp (written PNGs decode back to the same pixels) and
// tests/test_data_procedural.cpp (grid geometry).
#pragma once
#include <string>

#include "data/dataset.h"

namespace sp::data {

// Writes a u8 image of C = 1 (written as grey RGB) or 3 channels, [C, H, W], atomically.
void write_png(const std::string& path, const uint8_t* chw, int64_t c, int64_t h, int64_t w);

// Grid of the first `per_class` samples of each class: row k holds class k, each image upscaled by `scale`
// with a 1-pixel grey gutter. Returns the [3, H, W] grid image it wrote.
Tensor save_sample_grid(const std::string& path, const Dataset& d, int per_class = 10, int scale = 2);

}  // namespace sp::data
