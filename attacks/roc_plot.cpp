// Log-log ROC plot (see roc_plot.h).
#include "attacks/roc_plot.h"

#include <cmath>
#include <limits>

#include "data/png.h"

namespace sp::lira {
namespace {

constexpr Rgb kBlack{0, 0, 0}, kGrid{225, 225, 225}, kChance{150, 150, 150}, kWhite{255, 255, 255};

std::string decade_label(int e) {
  switch (e) {
    case 0: return "1";
    case -1: return "0.1";
    case -2: return "0.01";
    default: return "1e" + std::to_string(e);
  }
}

}  // namespace

Rgb curve_color(size_t k) {
  static const Rgb kTab10[] = {{31, 119, 180}, {255, 127, 14}, {44, 160, 44},  {214, 39, 40},  {148, 103, 189},
                               {140, 86, 75},  {227, 119, 194}, {127, 127, 127}, {188, 189, 34}, {23, 190, 207}};
  return kTab10[k % 10];
}

double plot_x(const PlotLayout& L, double fpr) {
  if (!(fpr > 0)) return -std::numeric_limits<double>::infinity();
  double w = L.width - L.left - L.right;
  return L.left + (std::log10(fpr) - L.log_min) / -L.log_min * w;
}

double plot_y(const PlotLayout& L, double tpr) {
  if (!(tpr > 0)) return std::numeric_limits<double>::infinity();
  double h = L.height - L.top - L.bottom;
  return L.top + h - (std::log10(tpr) - L.log_min) / -L.log_min * h;
}

Canvas render_roc_plot(const std::vector<PlotCurve>& curves, const std::string& title, const PlotLayout& L) {
  Canvas c(L.width, L.height, kWhite);
  const int x0 = L.left, x1 = L.width - L.right, y0 = L.top, y1 = L.height - L.bottom;
  const int decades = int(std::lround(-L.log_min));

  // Grid at decades, minor ticks at 2..9 times each decade.
  for (int e = -decades; e <= 0; ++e) {
    int gx = int(std::lround(plot_x(L, std::pow(10.0, e)))), gy = int(std::lround(plot_y(L, std::pow(10.0, e))));
    c.line(gx, y0, gx, y1, kGrid);
    c.line(x0, gy, x1, gy, kGrid);
    std::string lab = decade_label(e);
    c.text(gx - Canvas::text_width(lab, 2) / 2, y1 + 12, lab, kBlack, 2);
    c.text(x0 - 12 - Canvas::text_width(lab, 2), gy - Canvas::text_height(2) / 2, lab, kBlack, 2);
    c.line(gx, y1, gx, y1 - 8, kBlack);
    c.line(x0, gy, x0 + 8, gy, kBlack);
    if (e < 0)
      for (int m = 2; m <= 9; ++m) {
        int mx = int(std::lround(plot_x(L, m * std::pow(10.0, e)))), my = int(std::lround(plot_y(L, m * std::pow(10.0, e))));
        c.line(mx, y1, mx, y1 - 4, kBlack);
        c.line(x0, my, x0 + 4, my, kBlack);
      }
  }

  c.set_clip(x0, y0, x1, y1);
  c.line(plot_x(L, std::pow(10.0, L.log_min)), plot_y(L, std::pow(10.0, L.log_min)), plot_x(L, 1), plot_y(L, 1), kChance, 2, 6);
  for (size_t k = 0; k < curves.size(); ++k) {
    const PlotCurve& pc = curves[k];
    bool have = false;
    double px = 0, py = 0;
    for (size_t j = 0; j < pc.fpr.size() && j < pc.tpr.size(); ++j) {
      double x = plot_x(L, pc.fpr[j]), y = plot_y(L, pc.tpr[j]);
      if (!std::isfinite(x) || !std::isfinite(y)) continue;  // zero rates lie off the log axes
      if (have) c.line(px, py, x, y, curve_color(k), 2);
      px = x;
      py = y;
      have = true;
    }
  }
  c.reset_clip();

  // Frame, titles, legend.
  c.line(x0, y0, x1, y0, kBlack);
  c.line(x0, y1, x1, y1, kBlack);
  c.line(x0, y0, x0, y1, kBlack);
  c.line(x1, y0, x1, y1, kBlack);
  c.text((x0 + x1 - Canvas::text_width(title, 2)) / 2, 22, title, kBlack, 2);
  const std::string xl = "False positive rate", yl = "True positive rate";
  c.text((x0 + x1 - Canvas::text_width(xl, 2)) / 2, L.height - 40, xl, kBlack, 2);
  c.text_up(18, (y0 + y1 + Canvas::text_width(yl, 2)) / 2, yl, kBlack, 2);

  if (!curves.empty()) {
    const int scale = 2, row = Canvas::text_height(scale) + 10, sample = 36;
    int tw = 0;
    for (const PlotCurve& pc : curves) tw = std::max(tw, Canvas::text_width(pc.label, scale));
    const int bw = sample + 16 + tw + 16, bh = int(curves.size()) * row + 12;
    const int bx1 = x1 - 12, by1 = y1 - 12, bx0 = bx1 - bw, by0 = by1 - bh;
    c.fill_rect(bx0, by0, bx1, by1, kWhite);
    c.line(bx0, by0, bx1, by0, kChance);
    c.line(bx0, by1, bx1, by1, kChance);
    c.line(bx0, by0, bx0, by1, kChance);
    c.line(bx1, by0, bx1, by1, kChance);
    for (size_t k = 0; k < curves.size(); ++k) {
      int ty = by0 + 8 + int(k) * row;
      int my = ty + Canvas::text_height(scale) / 2;
      c.line(bx0 + 8, my, bx0 + 8 + sample, my, curve_color(k), 3);
      c.text(bx0 + 8 + sample + 10, ty, curves[k].label, kBlack, scale);
    }
  }
  return c;
}

void write_roc_plot(const std::string& path, const std::vector<PlotCurve>& curves, const std::string& title) {
  Canvas c = render_roc_plot(curves, title);
  write_png_rgb(path, c.width(), c.height(), c.pixels());
}

}  // namespace sp::lira
