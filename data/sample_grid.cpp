// PNG writing and sample grids (see sample_grid.h).
#include "data/sample_grid.h"

#include "data/png.h"

namespace sp::data {

void write_png(const std::string& path, const uint8_t* chw, int64_t c, int64_t h, int64_t w) {
  SP_CHECK((c == 1 || c == 3) && h > 0 && w > 0 && h < (1 << 16) && w < (1 << 16), "write_png '", path,
           "': unsupported image [", c, ", ", h, ", ", w, "]");
  std::vector<uint8_t> rgb(size_t(3 * h * w));
  for (int64_t p = 0; p < h * w; ++p)
    for (int64_t k = 0; k < 3; ++k) rgb[size_t(p * 3 + k)] = chw[(c == 1 ? 0 : k) * h * w + p];
  write_png_rgb(path, int(w), int(h), rgb);
}

Tensor save_sample_grid(const std::string& path, const Dataset& d, int per_class, int scale) {
  d.validate("save_sample_grid");
  SP_CHECK(d.channels() == 3 && per_class > 0 && scale > 0, "save_sample_grid: needs RGB images, per_class > 0 and "
           "scale > 0, got ", d.images.str(), ", ", per_class, ", ", scale);
  int64_t ch = d.height() * scale + 1, cw = d.width() * scale + 1;
  int64_t gh = ch * d.num_classes() + 1, gw = cw * per_class + 1;
  Tensor grid = Tensor::full({3, gh, gw}, 96.0, DType::u8);
  uint8_t* g = grid.data<uint8_t>();
  std::vector<int> filled(size_t(d.num_classes()), 0);
  for (int64_t i = 0; i < d.size(); ++i) {
    int64_t k = d.label(i);
    if (filled[size_t(k)] >= per_class) continue;
    int64_t y0 = 1 + k * ch, x0 = 1 + filled[size_t(k)]++ * cw;
    const uint8_t* im = d.image(i);
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t y = 0; y < d.height() * scale; ++y)
        for (int64_t x = 0; x < d.width() * scale; ++x)
          g[(c * gh + y0 + y) * gw + x0 + x] = im[(c * d.height() + y / scale) * d.width() + x / scale];
  }
  write_png(path, g, 3, gh, gw);
  return grid;
}

}  // namespace sp::data
