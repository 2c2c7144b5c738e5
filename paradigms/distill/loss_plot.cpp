// Distillation-loss curves (see loss_plot.h).
#include "paradigms/distill/loss_plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "attacks/raster.h"
#include "attacks/roc_plot.h"
#include "data/png.h"
#include "kernels/error.h"

namespace sp::distill {

void write_loss_plot(const std::string& path, const std::vector<LossCurve>& curves, const std::string& title) {
  double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
  for (const LossCurve& c : curves)
    for (auto [x, y] : c.points)
      if (std::isfinite(x) && std::isfinite(y)) xmin = std::min(xmin, x), xmax = std::max(xmax, x), ymin = std::min(ymin, y), ymax = std::max(ymax, y);
  SP_CHECK(std::isfinite(xmin), "loss plot ", path, ": no finite point to draw");
  if (xmax <= xmin) xmax = xmin + 1;
  if (ymax <= ymin) ymax = ymin + 1;
  const int W = 640, H = 400, L = 90, R = 20, T = 40, B = 60;
  using lira::Canvas;
  using lira::Rgb;
  const Rgb black{0, 0, 0}, grid{225, 225, 225};
  Canvas c(W, H, Rgb{255, 255, 255});
  auto px = [&](double x) { return L + (x - xmin) / (xmax - xmin) * (W - L - R); };
  auto py = [&](double y) { return H - B - (y - ymin) / (ymax - ymin) * (H - T - B); };
  for (int k = 0; k <= 4; ++k) {
    const double x = xmin + (xmax - xmin) * k / 4, y = ymin + (ymax - ymin) * k / 4;
    c.line(px(x), T, px(x), H - B, grid);
    c.line(L, py(y), W - R, py(y), grid);
    char lx[32], ly[32];
    std::snprintf(lx, sizeof lx, "%.0f", x);
    std::snprintf(ly, sizeof ly, "%.3g", y);
    c.text(int(px(x)) - Canvas::text_width(lx, 2) / 2, H - B + 10, lx, black, 2);
    c.text(L - 8 - Canvas::text_width(ly, 2), int(py(y)) - Canvas::text_height(2) / 2, ly, black, 2);
  }
  c.line(L, H - B, W - R, H - B, black);
  c.line(L, T, L, H - B, black);
  c.text(W / 2 - Canvas::text_width("iteration", 2) / 2, H - 24, "iteration", black, 2);
  c.text_up(12, H / 2 + Canvas::text_width("loss", 2) / 2, "loss", black, 2);
  c.text(L, 12, title, black, 2);
  c.set_clip(L, T, W - R, H - B);
  for (size_t k = 0; k < curves.size(); ++k) {
    const auto& p = curves[k].points;
    for (size_t i = 1; i < p.size(); ++i)
      c.line(px(p[i - 1].first), py(p[i - 1].second), px(p[i].first), py(p[i].second), lira::curve_color(k), 2);
  }
  c.reset_clip();
  for (size_t k = 0; k < curves.size() && k < 10; ++k) {
    const int y = T + 6 + int(k) * 18;
    c.fill_rect(W - R - 150, y, W - R - 138, y + 10, lira::curve_color(k));
    c.text(W - R - 132, y + 1, curves[k].label, black, 1);
  }
  write_png_rgb(path, W, H, c.pixels());
}

}  // namespace sp::distill
