// PNG encoder over stb_image_write (see png.h). stb writes into a callback, so the bytes land in a string
// that write_file_atomic renames into place: a crash never leaves half a PNG.
#include "data/png.h"

#include <stb/stb_image_write.h>

#include "data/atomic_file.h"
#include "kernels/error.h"

namespace sp {
namespace {

void append_bytes(void* ctx, void* data, int size) {
  static_cast<std::string*>(ctx)->append(static_cast<const char*>(data), size_t(size));
}

}  // namespace

std::string encode_png_rgb(int width, int height, const std::vector<uint8_t>& rgb) {
  // stb computes row strides and buffer sizes in int: keep width * height * 3 well inside it.
  SP_CHECK(width > 0 && height > 0 && width <= (1 << 15) && height <= (1 << 15),
           "encode_png_rgb: image size ", width, "x", height, " outside 1..32768");
  SP_CHECK(rgb.size() == size_t(width) * size_t(height) * 3, "encode_png_rgb: ", rgb.size(), " bytes for a ", width,
           "x", height, " RGB image (expected ", size_t(width) * size_t(height) * 3, ")");
  std::string out;
  const int ok = stbi_write_png_to_func(append_bytes, &out, width, height, 3, rgb.data(), width * 3);
  SP_CHECK(ok != 0 && !out.empty(), "encode_png_rgb: stb_image_write failed for a ", width, "x", height, " image");
  return out;
}

void write_png_rgb(const std::string& path, int width, int height, const std::vector<uint8_t>& rgb) {
  write_file_atomic(path, encode_png_rgb(width, height, rgb));
}

}  // namespace sp
