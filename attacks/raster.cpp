// Canvas drawing (see raster.h).
#include "attacks/raster.h"

#include <algorithm>
#include <cmath>

#include "attacks/bitmap_font.h"
#include "kernels/error.h"

namespace sp::lira {

Canvas::Canvas(int width, int height, Rgb bg) : w_(width), h_(height) {
  SP_CHECK(width > 0 && height > 0 && width <= 16384 && height <= 16384, "Canvas: bad size ", width, "x", height);
  px_.resize(size_t(w_) * size_t(h_) * 3);
  for (size_t k = 0; k < px_.size(); k += 3) {
    px_[k] = bg.r;
    px_[k + 1] = bg.g;
    px_[k + 2] = bg.b;
  }
  reset_clip();
}

Rgb Canvas::at(int x, int y) const {
  SP_CHECK(x >= 0 && y >= 0 && x < w_ && y < h_, "Canvas::at: (", x, ", ", y, ") outside ", w_, "x", h_);
  size_t k = (size_t(y) * size_t(w_) + size_t(x)) * 3;
  return {px_[k], px_[k + 1], px_[k + 2]};
}

void Canvas::set_clip(int x0, int y0, int x1, int y1) {
  cx0_ = std::max(0, x0);
  cy0_ = std::max(0, y0);
  cx1_ = std::min(w_ - 1, x1);
  cy1_ = std::min(h_ - 1, y1);
}

void Canvas::reset_clip() { set_clip(0, 0, w_ - 1, h_ - 1); }

void Canvas::set(int x, int y, Rgb c) {
  if (x < cx0_ || x > cx1_ || y < cy0_ || y > cy1_) return;
  size_t k = (size_t(y) * size_t(w_) + size_t(x)) * 3;
  px_[k] = c.r;
  px_[k + 1] = c.g;
  px_[k + 2] = c.b;
}

void Canvas::fill_rect(int x0, int y0, int x1, int y1, Rgb c) {
  for (int y = std::max(y0, cy0_); y <= std::min(y1, cy1_); ++y)
    for (int x = std::max(x0, cx0_); x <= std::min(x1, cx1_); ++x) set(x, y, c);
}

void Canvas::line(double x0, double y0, double x1, double y1, Rgb c, int thickness, int dash) {
  if (!std::isfinite(x0) || !std::isfinite(y0) || !std::isfinite(x1) || !std::isfinite(y1)) return;
  // Skip lines entirely outside the clip box (also bounds the step count for far-away endpoints).
  const double pad = thickness + 1;
  if (std::max(x0, x1) < cx0_ - pad || std::min(x0, x1) > cx1_ + pad || std::max(y0, y1) < cy0_ - pad ||
      std::min(y0, y1) > cy1_ + pad)
    return;
  const double len = std::max(std::abs(x1 - x0), std::abs(y1 - y0));
  const int steps = int(std::min(len, 1e5)) + 1;
  const int lo = -(thickness - 1) / 2, hi = thickness / 2;
  for (int k = 0; k <= steps; ++k) {
    if (dash > 0 && (k / dash) % 2 == 1) continue;
    double t = double(k) / steps;
    int x = int(std::lround(x0 + t * (x1 - x0))), y = int(std::lround(y0 + t * (y1 - y0)));
    for (int dy = lo; dy <= hi; ++dy)
      for (int dx = lo; dx <= hi; ++dx) set(x + dx, y + dy, c);
  }
}

int Canvas::text_width(std::string_view s, int scale) {
  return s.empty() ? 0 : int(s.size()) * (kGlyphW + 1) * scale - scale;
}
int Canvas::text_height(int scale) { return kGlyphH * scale; }

void Canvas::text(int x, int y, std::string_view s, Rgb c, int scale) {
  for (size_t n = 0; n < s.size(); ++n) {
    const auto& g = glyph(s[n]);
    int gx = x + int(n) * (kGlyphW + 1) * scale;
    for (int r = 0; r < kGlyphH; ++r)
      for (int col = 0; col < kGlyphW; ++col)
        if (g[size_t(r)] & (1 << (kGlyphW - 1 - col)))
          fill_rect(gx + col * scale, y + r * scale, gx + col * scale + scale - 1, y + r * scale + scale - 1, c);
  }
}

void Canvas::text_up(int x, int y, std::string_view s, Rgb c, int scale) {
  // Glyph row r becomes column x + r; glyph column col becomes row y - col (reading upwards).
  for (size_t n = 0; n < s.size(); ++n) {
    const auto& g = glyph(s[n]);
    int gy = y - int(n) * (kGlyphW + 1) * scale;
    for (int r = 0; r < kGlyphH; ++r)
      for (int col = 0; col < kGlyphW; ++col)
        if (g[size_t(r)] & (1 << (kGlyphW - 1 - col)))
          fill_rect(x + r * scale, gy - col * scale - scale + 1, x + r * scale + scale - 1, gy - col * scale, c);
  }
}

}  // namespace sp::lira
