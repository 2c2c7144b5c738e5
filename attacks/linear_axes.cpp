// Linear plot axes (see linear_axes.h).
#include "attacks/linear_axes.h"

#include <cstdio>

namespace sp::lira {

Canvas draw_linear_axes(const LinearAxes& a, const AxisText& text) {
  const Rgb black{0, 0, 0}, grid{225, 225, 225};
  Canvas c(a.width, a.height, Rgb{255, 255, 255});
  const int W = a.width, H = a.height;
  for (int k = 0; k <= 4; ++k) {
    const double x = a.xmin + (a.xmax - a.xmin) * k / 4, y = a.ymin + (a.ymax - a.ymin) * k / 4;
    c.line(a.px(x), a.top, a.px(x), H - a.bottom, grid);
    c.line(a.left, a.py(y), W - a.right, a.py(y), grid);
    char lx[32], ly[32];
    std::snprintf(lx, sizeof lx, text.x_format, x);
    std::snprintf(ly, sizeof ly, text.y_format, y);
    c.text(int(a.px(x)) - Canvas::text_width(lx, 2) / 2, H - a.bottom + 10, lx, black, 2);
    c.text(a.left - 8 - Canvas::text_width(ly, 2), int(a.py(y)) - Canvas::text_height(2) / 2, ly, black, 2);
  }
  c.line(a.left, H - a.bottom, W - a.right, H - a.bottom, black);
  c.line(a.left, a.top, a.left, H - a.bottom, black);
  const int s = text.x_title_scale;
  c.text(W / 2 - Canvas::text_width(text.x_title, s) / 2, H - 24, text.x_title, black, s);
  c.text_up(12, H / 2 + Canvas::text_width(text.y_title, 2) / 2, text.y_title, black, 2);
  c.text(a.left, 12, text.title, black, 2);
  return c;
}

}  // namespace sp::lira
