// Figure layout from measured text (see cairo_layout.h).
#include "plot/cairo_layout.h"

#include <algorithm>
#include <cmath>

namespace sp::plot {

namespace {

constexpr double kPad = 12;        // outer margin of the image
constexpr double kTitleGap = 8;    // between title lines and the plot area
constexpr double kAxisTitleGap = 8;
constexpr double kLegendInset = 10;  // legend box from the plot frame

std::vector<std::string> split_tabs(const std::string& s) {
  std::vector<std::string> out(1);
  for (char c : s) {
    if (c == '\t')
      out.emplace_back();
    else
      out.back() += c;
  }
  return out;
}

double widest(TextPen& pen, const std::vector<Tick>& ticks) {
  double w = 0;
  for (const Tick& t : ticks)
    if (!t.label.empty()) w = std::max(w, pen.width(t.label, FontRole::tick));
  return w;
}

// Line pixels (every few pixels along each segment) inside a box.
int line_points_in(const Box& b, const PlotRect& r, const Figure& f) {
  int n = 0;
  for (const Line& l : f.lines)
    for (const auto& piece : pixel_pieces(r, f, l))
      for (size_t i = 0; i < piece.size(); ++i) {
        const auto [x1, y1] = piece[i];
        const auto [x0, y0] = i ? piece[i - 1] : piece[i];
        const int steps = std::clamp(int(std::hypot(x1 - x0, y1 - y0) / 4), 1, 2000);
        for (int s = i ? 1 : 0; s <= steps; ++s) {
          const double x = x0 + (x1 - x0) * s / steps, y = y0 + (y1 - y0) * s / steps;
          n += x >= b.x0 && x <= b.x1 && y >= b.y0 && y <= b.y1;
        }
      }
  return n;
}

// Data a legend box would hide: line points, and each disc it touches (weighted as a stretch of line).
int hidden_points(const Box& b, const PlotRect& r, const Figure& f) {
  int n = line_points_in(b, r, f);
  for (const Disc& d : f.discs) {
    const double x = r.px(f.x, d.x), y = r.py(f.y, d.y);
    if (Box{x - d.radius, y - d.radius, x + d.radius, y + d.radius}.overlaps(b)) n += 50;
  }
  return n;
}

Box legend_box_at(LegendPlace p, double w, double h, const PlotRect& r) {
  const bool left = p == LegendPlace::upper_left || p == LegendPlace::lower_left;
  const bool upper = p == LegendPlace::upper_left || p == LegendPlace::upper_right;
  const double x0 = left ? r.x0 + kLegendInset : r.x1 - kLegendInset - w;
  const double y0 = upper ? r.y0 + kLegendInset : r.y1 - kLegendInset - h;
  return {x0, y0, x0 + w, y0 + h};
}

LegendLayout layout_legend(TextPen& pen, const Figure& f, const PlotRect& r) {
  LegendLayout L;
  std::vector<double> col_w;
  for (size_t i = 0; i < f.lines.size(); ++i) {
    if (f.lines[i].label.empty()) continue;
    L.lines.push_back(i);
    const std::vector<std::string> cols = split_tabs(f.lines[i].label);
    if (col_w.size() < cols.size()) col_w.resize(cols.size(), 0);
    for (size_t c = 0; c < cols.size(); ++c) col_w[c] = std::max(col_w[c], pen.width(cols[c], FontRole::legend));
  }
  if (L.lines.empty()) return L;
  L.shown = true;
  L.padding = 9;
  L.gap = 8;
  L.sample_width = 32;
  L.row_height = pen.height(FontRole::legend) * 1.3;
  const double col_gap = 16;
  double x = 0;
  for (double w : col_w) {
    L.column_x.push_back(x);
    x += w + col_gap;
  }
  const double w = 2 * L.padding + L.sample_width + L.gap + x - col_gap;
  const double h = 2 * L.padding + L.row_height * double(L.lines.size()) - (L.row_height - pen.height(FontRole::legend));
  if (f.legend != LegendPlace::automatic) {
    L.box = legend_box_at(f.legend, w, h, r);
    return L;
  }
  // Ties keep the earlier corner: the lower right first, where ROC curves (above the diagonal) never go.
  int best = -1;
  for (LegendPlace p : {LegendPlace::lower_right, LegendPlace::upper_left, LegendPlace::upper_right,
                        LegendPlace::lower_left}) {
    const Box b = legend_box_at(p, w, h, r);
    const int n = hidden_points(b, r, f);
    if (best < 0 || n < best) best = n, L.box = b;
  }
  return L;
}

// The label box of each disc: the first side (right, left, above, below, diagonals) that stays in the plot
// area and overlaps no disc, line, legend or earlier label; else the side with the fewest overlaps.
std::vector<Box> layout_disc_labels(TextPen& pen, const Figure& f, const PlotRect& r, const LegendLayout& legend) {
  std::vector<Box> out(f.discs.size());
  std::vector<Box> taken;
  if (legend.shown) taken.push_back(legend.box);
  for (const Disc& d : f.discs) {
    const double x = r.px(f.x, d.x), y = r.py(f.y, d.y);
    taken.push_back({x - d.radius, y - d.radius, x + d.radius, y + d.radius});
  }
  const Box area{r.x0, r.y0, r.x1, r.y1};
  const double th = pen.height(FontRole::label);
  for (size_t i = 0; i < f.discs.size(); ++i) {
    const Disc& d = f.discs[i];
    const double x = r.px(f.x, d.x), y = r.py(f.y, d.y), rr = d.radius;
    if (d.label.empty() || !std::isfinite(x) || !std::isfinite(y)) continue;  // an undrawn disc gets no label
    const double tw = pen.width(d.label, FontRole::label);
    const double g = 5, diag = rr * 0.75;
    const Box candidates[] = {
        {x + rr + g, y - th / 2, x + rr + g + tw, y + th / 2},
        {x - rr - g - tw, y - th / 2, x - rr - g, y + th / 2},
        {x - tw / 2, y - rr - g - th, x + tw / 2, y - rr - g},
        {x - tw / 2, y + rr + g, x + tw / 2, y + rr + g + th},
        {x + diag + g, y - diag - g - th, x + diag + g + tw, y - diag - g},
        {x + diag + g, y + diag + g, x + diag + g + tw, y + diag + g + th},
        {x - diag - g - tw, y - diag - g - th, x - diag - g, y - diag - g},
        {x - diag - g - tw, y + diag + g, x - diag - g, y + diag + g + th},
    };
    int best = -1, best_hits = 0;
    for (int c = 0; c < int(std::size(candidates)); ++c) {
      const Box& b = candidates[c];
      // Crossing a line is allowed but costs as much as touching a disc or label.
      int hits = (b.inside(area) ? 0 : 1000) + (line_points_in(b, r, f) > 0);
      for (size_t t = 0; t < taken.size(); ++t) {
        const bool own = legend.shown ? t == i + 1 : t == i;
        if (!own && b.overlaps(taken[t])) ++hits;
      }
      if (best < 0 || hits < best_hits) best = c, best_hits = hits;
      if (hits == 0) break;
    }
    out[i] = candidates[best];
    taken.push_back(out[i]);
  }
  return out;
}

}  // namespace

std::vector<std::vector<std::pair<double, double>>> pixel_pieces(const PlotRect& r, const Figure& f, const Line& l) {
  std::vector<std::vector<std::pair<double, double>>> out;
  bool open = false;
  for (size_t i = 0; i < l.x.size() && i < l.y.size(); ++i) {
    const double px = r.px(f.x, l.x[i]), py = r.py(f.y, l.y[i]);
    if (!std::isfinite(px) || !std::isfinite(py)) {
      open = false;
      continue;
    }
    if (!open) out.emplace_back();
    out.back().emplace_back(px, py);
    open = true;
  }
  return out;
}

Layout layout_figure(TextPen& pen, const Figure& f) {
  Layout L;
  L.x_ticks = axis_ticks(f.x);
  L.y_ticks = axis_ticks(f.y);
  const double tick_h = pen.height(FontRole::tick);

  double top = kPad;
  if (!f.title.empty()) {
    L.title_baseline = top + pen.height(FontRole::title) * 0.8;
    top += pen.height(FontRole::title);
  }
  if (!f.subtitle.empty()) {
    top += 2;
    L.subtitle_baseline = top + pen.height(FontRole::subtitle) * 0.8;
    top += pen.height(FontRole::subtitle);
  }
  top += kTitleGap;
  top = std::max(top, kPad + tick_h / 2);  // the top y tick label is centred on the frame

  double left = kPad;
  L.y_title_left = left;
  if (!f.y.title.empty()) left += pen.height(FontRole::axis_title) + kAxisTitleGap;
  left += widest(pen, L.y_ticks) + L.tick_gap;

  double bottom = kPad;
  if (!f.x.title.empty()) bottom += pen.height(FontRole::axis_title) + kAxisTitleGap;
  bottom += tick_h + L.tick_gap;
  L.x_title_bottom = double(f.height) - kPad;

  // x tick labels are centred on their ticks: the first and last may stick out of the plot area's sides.
  double right = kPad;
  std::vector<const Tick*> labelled;
  for (const Tick& t : L.x_ticks)
    if (!t.label.empty()) labelled.push_back(&t);
  if (!labelled.empty()) {
    left = std::max(left, kPad + pen.width(labelled.front()->label, FontRole::tick) / 2);
    right = std::max(right, kPad + pen.width(labelled.back()->label, FontRole::tick) / 2);
  }
  // Whole pixels, so the frame and grid lines land on pixel centres in the PNG.
  L.area = {std::round(left), std::round(top), std::round(double(f.width) - right), std::round(double(f.height) - bottom)};
  L.legend = layout_legend(pen, f, L.area);
  L.disc_labels = layout_disc_labels(pen, f, L.area, L.legend);
  return L;
}

}  // namespace sp::plot
