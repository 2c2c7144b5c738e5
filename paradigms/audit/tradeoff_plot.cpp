// Privacy-utility-cost scatter plot (see tradeoff_plot.h).
#include "paradigms/audit/tradeoff_plot.h"

#include <algorithm>
#include <cmath>

#include "attacks/roc_plot.h"
#include "data/png.h"

namespace sp::audit {

using lira::Canvas;
using lira::Rgb;

namespace {
constexpr Rgb kBlack{0, 0, 0}, kGrid{225, 225, 225}, kChance{150, 150, 150}, kWhite{255, 255, 255};

std::string percent_label(double v) {
  char b[32];
  std::snprintf(b, sizeof b, v >= 0.01 ? "%.0f%%" : "%.1f%%", 100 * v);
  return b;
}

void disc(Canvas& c, double cx, double cy, int r, Rgb fill) {
  for (int dy = -r; dy <= r; ++dy) {
    int half = int(std::floor(std::sqrt(double(r * r - dy * dy))));
    int y = int(std::lround(cy)) + dy;
    c.fill_rect(int(std::lround(cx)) - half, y, int(std::lround(cx)) + half, y, fill);
  }
}
}  // namespace

TradeoffLayout fit_layout(const std::vector<TradeoffPoint>& pts) {
  TradeoffLayout L;
  if (pts.empty()) return L;
  double lo = 1, hi = 0;
  for (const auto& p : pts) lo = std::min(lo, p.accuracy), hi = std::max(hi, p.accuracy);
  double pad = std::max(0.02, 0.1 * (hi - lo));
  L.acc_min = std::max(0.0, std::floor((lo - pad) * 20) / 20);  // multiples of 5%
  L.acc_max = std::min(1.0, std::ceil((hi + pad) * 20) / 20);
  if (L.acc_max <= L.acc_min) L.acc_max = std::min(1.0, L.acc_min + 0.05), L.acc_min = L.acc_max - 0.05;
  return L;
}

double tradeoff_x(const TradeoffLayout& L, double accuracy) {
  double w = L.width - L.left - L.right;
  return L.left + (accuracy - L.acc_min) / (L.acc_max - L.acc_min) * w;
}

double tradeoff_y(const TradeoffLayout& L, double tpr) {
  double h = L.height - L.top - L.bottom;
  double lt = std::log10(std::max(tpr, std::pow(10.0, L.log_tpr_min)));
  return L.top + h - (lt - L.log_tpr_min) / -L.log_tpr_min * h;
}

int disc_radius(double seconds, double max_seconds) {
  const int rmin = 5, rmax = 28;
  if (!(max_seconds > 0) || !(seconds > 0)) return rmin;
  double f = std::sqrt(std::min(1.0, seconds / max_seconds));  // area proportional to time
  return std::max(rmin, int(std::lround(rmax * f)));
}

Canvas render_tradeoff_plot(const std::vector<TradeoffPoint>& pts, const std::string& title, const TradeoffLayout& L) {
  Canvas c(L.width, L.height, kWhite);
  const int x0 = L.left, x1 = L.width - L.right, y0 = L.top, y1 = L.height - L.bottom;
  for (double a = L.acc_min; a <= L.acc_max + 1e-9; a += 0.05) {
    int gx = int(std::lround(tradeoff_x(L, a)));
    c.line(gx, y0, gx, y1, kGrid);
    std::string lab = percent_label(a);
    c.text(gx - Canvas::text_width(lab, 2) / 2, y1 + 12, lab, kBlack, 2);
  }
  for (int e = int(std::lround(L.log_tpr_min)); e <= 0; ++e) {
    int gy = int(std::lround(tradeoff_y(L, std::pow(10.0, e))));
    c.line(x0, gy, x1, gy, kGrid);
    std::string lab = percent_label(std::pow(10.0, e));
    c.text(x0 - 12 - Canvas::text_width(lab, 2), gy - Canvas::text_height(2) / 2, lab, kBlack, 2);
  }
  int chance_y = int(std::lround(tradeoff_y(L, 1e-3)));
  c.line(x0, chance_y, x1, chance_y, kChance, 2, 8);
  c.text(x1 - Canvas::text_width("random guess", 2) - 6, chance_y - 22, "random guess", kChance, 2);
  c.line(x0, y0, x0, y1, kBlack, 2);
  c.line(x0, y1, x1, y1, kBlack, 2);
  c.line(x1, y0, x1, y1, kBlack);
  c.line(x0, y0, x1, y0, kBlack);

  double max_s = 0;
  for (const auto& p : pts) max_s = std::max(max_s, p.seconds);
  c.set_clip(x0 + 1, y0 + 1, x1 - 1, y1 - 1);
  for (size_t k = 0; k < pts.size(); ++k) {
    const TradeoffPoint& p = pts[k];
    double px = tradeoff_x(L, p.accuracy), py = tradeoff_y(L, p.tpr);
    int r = disc_radius(p.seconds, max_s);
    disc(c, px, py, r + 1, kBlack);
    disc(c, px, py, r, lira::curve_color(k));
    c.text(int(px) + r + 6, int(py) - Canvas::text_height(2) / 2, p.label, kBlack, 2);
  }
  c.reset_clip();
  c.text((x0 + x1 - Canvas::text_width(title, 2)) / 2, 22, title, kBlack, 2);
  const std::string xl = "test accuracy (mean over shadow models)", yl = "TPR at 0.1% FPR (best attack)";
  c.text((x0 + x1 - Canvas::text_width(xl, 2)) / 2, L.height - 40, xl, kBlack, 2);
  c.text_up(18, (y0 + y1 + Canvas::text_width(yl, 2)) / 2, yl, kBlack, 2);
  const std::string note = "disc area: training time per model";
  c.text(x0 + 8, y0 + 8, note, kChance, 2);
  return c;
}

void write_tradeoff_plot(const std::string& path, const std::vector<TradeoffPoint>& pts, const std::string& title) {
  Canvas c = render_tradeoff_plot(pts, title, fit_layout(pts));
  write_png_rgb(path, c.width(), c.height(), c.pixels());
}

}  // namespace sp::audit
