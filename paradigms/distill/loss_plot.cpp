// Distillation-loss curves (see loss_plot.h).
#include "paradigms/distill/loss_plot.h"

#include <algorithm>
#include <cmath>

#include "attacks/linear_axes.h"
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
  lira::LinearAxes ax;
  ax.xmin = xmin, ax.xmax = xmax, ax.ymin = ymin, ax.ymax = ymax;
  lira::AxisText text;
  text.x_format = "%.0f";
  text.x_title = "iteration";
  text.y_title = "loss";
  text.title = title;
  lira::Canvas c = lira::draw_linear_axes(ax, text);
  const lira::Rgb black{0, 0, 0};
  ax.clip_to_plot(c);
  for (size_t k = 0; k < curves.size(); ++k) {
    const auto& p = curves[k].points;
    for (size_t i = 1; i < p.size(); ++i)
      c.line(ax.px(p[i - 1].first), ax.py(p[i - 1].second), ax.px(p[i].first), ax.py(p[i].second), lira::curve_color(k), 2);
  }
  c.reset_clip();
  for (size_t k = 0; k < curves.size() && k < 10; ++k) {
    const int y = ax.top + 6 + int(k) * 18, x = ax.width - ax.right;
    c.fill_rect(x - 150, y, x - 138, y + 10, lira::curve_color(k));
    c.text(x - 132, y + 1, curves[k].label, black, 1);
  }
  write_png_rgb(path, ax.width, ax.height, c.pixels());
}

}  // namespace sp::distill
