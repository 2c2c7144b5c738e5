// PNG encoding of 8-bit RGB images through stb_image_write (Debian's libstb): plots' pixels and image grids
// of synthetic data. Tested in tests/test_data_png.cpp (decoded back with stb_image to the same pixels, bad
// sizes, atomic file writes).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace sp {

// rgb holds width * height * 3 bytes, row-major from the top-left pixel.
std::string encode_png_rgb(int width, int height, const std::vector<uint8_t>& rgb);
// Encodes and writes atomically.
void write_png_rgb(const std::string& path, int width, int height, const std::vector<uint8_t>& rgb);

}  // namespace sp
