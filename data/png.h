// A minimal PNG encoder: 8-bit RGB, no interlace, rows unfiltered, the image data deflated by zlib
// (compress2) and chunks checksummed with zlib's crc32. Enough for plots; no decoder. Tested in
// tests/test_lira_plot.cpp (structure, checksums, and the inflated rows equal the input pixels).
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
