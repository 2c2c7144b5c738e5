// The PNG encoder (data/png.cpp, over stb_image_write): what it writes decodes back with stb_image to the
// same pixels for odd sizes and random content, sizes that do not match the buffer are refused, and the file
// is written atomically at the named path (a missing folder is an error naming it).
#include <gtest/gtest.h>
#include <stb/stb_image.h>

#include <random>

#include "data/file_util.h"
#include "data/png.h"
#include "kernels/error.h"
#include "tests/data_test_util.h"

using namespace sp;

namespace {

std::vector<uint8_t> decode_rgb(const std::string& png, int& w, int& h) {
  int comp = 0;
  uint8_t* px = stbi_load_from_memory(reinterpret_cast<const stbi_uc*>(png.data()), int(png.size()), &w, &h, &comp, 3);
  if (!px) return {};
  std::vector<uint8_t> out(px, px + size_t(w) * size_t(h) * 3);
  stbi_image_free(px);
  return out;
}

}  // namespace

TEST(DataPng, RoundTripThroughStbImage) {
  std::mt19937 rng(7);
  for (auto [w, h] : std::vector<std::pair<int, int>>{{1, 1}, {3, 2}, {17, 5}, {64, 33}}) {
    std::vector<uint8_t> px(size_t(w) * size_t(h) * 3);
    for (auto& v : px) v = uint8_t(rng());
    const std::string png = encode_png_rgb(w, h, px);
    ASSERT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
    int dw = 0, dh = 0;
    EXPECT_EQ(decode_rgb(png, dw, dh), px) << w << "x" << h;
    EXPECT_EQ(dw, w);
    EXPECT_EQ(dh, h);
  }
}

TEST(DataPng, RefusesSizesThatDoNotMatch) {
  std::vector<uint8_t> px(18);
  EXPECT_THROW(encode_png_rgb(2, 2, px), Error);
  EXPECT_THROW(encode_png_rgb(0, 6, px), Error);
  EXPECT_THROW(encode_png_rgb(-3, -2, px), Error);
  EXPECT_THROW(encode_png_rgb(1 << 16, 1, px), Error);
}

TEST(DataPng, WritesTheFileAtomically) {
  test::TempDir dir("png");
  std::vector<uint8_t> px{255, 0, 0, 0, 255, 0};
  write_png_rgb(dir / "a.png", 2, 1, px);
  int w = 0, h = 0;
  const std::vector<uint8_t> bytes = data::read_file_bytes(dir / "a.png");
  EXPECT_EQ(decode_rgb(std::string(bytes.begin(), bytes.end()), w, h), px);
  try {
    write_png_rgb(dir / "missing/a.png", 2, 1, px);
    FAIL() << "no error for a missing folder";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("missing"), std::string::npos) << e.what();
  }
}
