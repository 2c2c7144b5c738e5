// Synthetic-set files (see synthetic_set.h).
#include "paradigms/distill/synthetic_set.h"

#include <algorithm>
#include <cmath>

#include "data/png.h"
#include "kernels/error.h"
#include "nn/safetensors.h"

namespace sp::distill {

void save_synthetic(const std::string& path, const SyntheticSet& set, const std::map<std::string, std::string>& metadata) {
  std::map<std::string, Tensor> t = {{"images", set.images}, {"labels", set.labels}};
  if (set.soft.defined()) t["soft_labels"] = set.soft;
  save_safetensors(path, t, metadata);
}

SyntheticSet load_synthetic(const std::string& path, int64_t classes, int64_t c, int64_t h, int64_t w) {
  TensorFile f = load_safetensors(path);
  SyntheticSet s;
  s.images = f.at("images");
  s.labels = f.at("labels");
  SP_CHECK(s.images.dtype() == DType::f32 && s.images.dim() == 4 && s.images.size(1) == c && s.images.size(2) == h &&
               s.images.size(3) == w,
           path, ": images must be f32 [N, ", c, ", ", h, ", ", w, "], got ", s.images.str());
  const int64_t n = s.images.size(0);
  SP_CHECK(s.labels.dtype() == DType::i64 && s.labels.shape() == Shape{n}, path, ": labels must be i64 [", n, "], got ",
           s.labels.str());
  for (int64_t y : s.labels.to_vector<int64_t>())
    SP_CHECK(y >= 0 && y < classes, path, ": label ", y, " is outside [0, ", classes, ")");
  for (float v : s.images.to_vector<float>()) SP_CHECK(std::isfinite(v), path, ": images hold a non-finite value");
  if (f.contains("soft_labels")) {
    s.soft = f.at("soft_labels");
    SP_CHECK(s.soft.dtype() == DType::f32 && s.soft.shape() == (Shape{n, classes}), path,
             ": soft_labels must be f32 [", n, ", ", classes, "], got ", s.soft.str());
  }
  return s;
}

void save_synthetic_grid(const std::string& path, const Tensor& images, const std::vector<int64_t>& labels,
                         int64_t classes, const data::Normalization& norm, const std::vector<bool>& framed, int scale,
                         Stream& s) {
  const int64_t n = images.size(0), C = images.size(1), H = images.size(2), W = images.size(3);
  SP_CHECK(int64_t(labels.size()) == n && (framed.empty() || int64_t(framed.size()) == n) && C <= 3 &&
               int64_t(norm.mean.size()) == C,
           "synthetic grid ", path, ": ", n, " images, ", labels.size(), " labels, ", framed.size(), " frames, ", C,
           " channels, ", norm.mean.size(), " normalisation channels");
  std::vector<float> px = images.to(DType::f32, s).to_vector<float>(s);
  std::vector<int64_t> per_row(size_t(classes), 0);
  for (int64_t y : labels) ++per_row[size_t(y)];
  const int64_t cols = std::max<int64_t>(1, *std::max_element(per_row.begin(), per_row.end()));
  const int64_t cell_h = H * scale + 1, cell_w = W * scale + 1;
  const int64_t gh = classes * cell_h + 1, gw = cols * cell_w + 1;
  std::vector<uint8_t> rgb(size_t(gh * gw * 3), 128);
  std::fill(per_row.begin(), per_row.end(), 0);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t y = labels[size_t(i)], col = per_row[size_t(y)]++;
    const int64_t top = 1 + y * cell_h, left = 1 + col * cell_w;
    for (int64_t r = 0; r < H * scale; ++r)
      for (int64_t q = 0; q < W * scale; ++q)
        for (int64_t ch = 0; ch < 3; ++ch) {
          const int64_t src = C == 3 ? ch : 0;
          const double v = px[size_t(((i * C + src) * H + r / scale) * W + q / scale)];
          const double u = (v * norm.std[size_t(src)] + norm.mean[size_t(src)]) * 255.0;
          rgb[size_t(((top + r) * gw + left + q) * 3 + ch)] = uint8_t(std::clamp(std::lround(u), 0L, 255L));
        }
    if (!framed.empty() && framed[size_t(i)]) {
      auto red = [&](int64_t r, int64_t q) {
        uint8_t* p = &rgb[size_t(((top + r) * gw + left + q) * 3)];
        p[0] = 230, p[1] = 20, p[2] = 20;
      };
      for (int64_t k = 0; k < W * scale; ++k) red(0, k), red(H * scale - 1, k);
      for (int64_t k = 0; k < H * scale; ++k) red(k, 0), red(k, W * scale - 1);
    }
  }
  write_png_rgb(path, int(gw), int(gh), rgb);
}

}  // namespace sp::distill
