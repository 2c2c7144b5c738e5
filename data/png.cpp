// PNG encoder (see png.h).
#include "data/png.h"

#include <zlib.h>

#include "data/atomic_file.h"
#include "kernels/error.h"

namespace sp {
namespace {

void put_u32(std::string& s, uint32_t v) {
  for (int k = 3; k >= 0; --k) s += char((v >> (8 * k)) & 0xff);
}

// length, type, data, CRC of type + data.
void put_chunk(std::string& out, const char type[4], const std::string& data) {
  put_u32(out, uint32_t(data.size()));
  std::string body(type, 4);
  body += data;
  out += body;
  uLong crc = crc32(0L, Z_NULL, 0);
  crc = crc32(crc, reinterpret_cast<const Bytef*>(body.data()), uInt(body.size()));
  put_u32(out, uint32_t(crc));
}

}  // namespace

std::string encode_png_rgb(int width, int height, const std::vector<uint8_t>& rgb) {
  SP_CHECK(width > 0 && height > 0 && width <= (1 << 20) && height <= (1 << 20), "png: bad size ", width, "x", height);
  SP_CHECK(rgb.size() == size_t(width) * size_t(height) * 3, "png: ", rgb.size(), " bytes for ", width, "x", height, " RGB");
  // Each row is preceded by its filter type (0: none).
  const size_t stride = size_t(width) * 3;
  std::string raw;
  raw.reserve((stride + 1) * size_t(height));
  for (int y = 0; y < height; ++y) {
    raw += char(0);
    raw.append(reinterpret_cast<const char*>(rgb.data()) + size_t(y) * stride, stride);
  }
  uLongf zlen = compressBound(uLong(raw.size()));
  std::string z(zlen, '\0');
  int rc = compress2(reinterpret_cast<Bytef*>(z.data()), &zlen, reinterpret_cast<const Bytef*>(raw.data()),
                     uLong(raw.size()), 9);
  SP_CHECK(rc == Z_OK, "png: zlib compress2 failed with code ", rc);
  z.resize(zlen);

  std::string out("\x89PNG\r\n\x1a\n", 8);
  std::string ihdr;
  put_u32(ihdr, uint32_t(width));
  put_u32(ihdr, uint32_t(height));
  ihdr += char(8);  // bit depth
  ihdr += char(2);  // colour type: RGB
  ihdr += char(0);  // compression: deflate
  ihdr += char(0);  // filter method 0
  ihdr += char(0);  // no interlace
  put_chunk(out, "IHDR", ihdr);
  put_chunk(out, "IDAT", z);
  put_chunk(out, "IEND", "");
  return out;
}

void write_png_rgb(const std::string& path, int width, int height, const std::vector<uint8_t>& rgb) {
  write_file_atomic(path, encode_png_rgb(width, height, rgb));
}

}  // namespace sp
