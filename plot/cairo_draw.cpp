// Drawing a figure with cairo (see cairo_draw.h).
#include "plot/cairo_draw.h"

#include <cmath>

#include "plot/cairo_layout.h"
#include "plot/cairo_text.h"

namespace sp::plot {

namespace {

void set_color(cairo_t* cr, Color c, double alpha = 1) { cairo_set_source_rgba(cr, c.r, c.g, c.b, alpha); }

// A 1-pixel line on pixel centres, so the PNG's grid and frame are sharp rather than two grey rows.
double crisp(double v) { return std::floor(v) + 0.5; }

void stroke_line_style(cairo_t* cr, const Line& l) {
  cairo_set_line_width(cr, l.width);
  cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
  cairo_set_line_cap(cr, l.style == LineStyle::dashed ? CAIRO_LINE_CAP_BUTT : CAIRO_LINE_CAP_ROUND);
  if (l.style == LineStyle::dashed) {
    const double dash[] = {4 * l.width, 2.5 * l.width};
    cairo_set_dash(cr, dash, 2, 0);
  } else {
    cairo_set_dash(cr, nullptr, 0, 0);
  }
}

void draw_line(cairo_t* cr, const PlotRect& r, const Figure& f, const Line& l) {
  const double m = 4 * l.width + 2;  // clip a little outside the frame so line ends are not cut square
  const double bx0 = r.x0 - m, by0 = r.y0 - m, bx1 = r.x1 + m, by1 = r.y1 + m;
  stroke_line_style(cr, l);
  set_color(cr, l.color);
  for (const auto& piece : pixel_pieces(r, f, l)) {
    if (piece.size() == 1) {  // a lone point: a dot, so it is not lost
      const auto [x, y] = piece[0];
      if (x >= bx0 && x <= bx1 && y >= by0 && y <= by1) {
        cairo_new_sub_path(cr);
        cairo_arc(cr, x, y, l.width, 0, 2 * M_PI);
        cairo_fill(cr);
      }
      continue;
    }
    bool joined = false;
    for (size_t i = 1; i < piece.size(); ++i) {
      double x0 = piece[i - 1].first, y0 = piece[i - 1].second, x1 = piece[i].first, y1 = piece[i].second;
      const double ox1 = x1, oy1 = y1;
      if (!clip_segment(x0, y0, x1, y1, bx0, by0, bx1, by1)) {
        joined = false;
        continue;
      }
      if (!joined) cairo_move_to(cr, x0, y0);
      cairo_line_to(cr, x1, y1);
      joined = x1 == ox1 && y1 == oy1;
    }
    cairo_stroke(cr);
  }
  cairo_set_dash(cr, nullptr, 0, 0);
}

void draw_grid_and_ticks(cairo_t* cr, TextPen& pen, const Layout& L, const Figure& f) {
  const PlotRect& r = L.area;
  cairo_set_line_width(cr, 1);
  for (bool grid : {true, false}) {
    for (const Tick& t : L.x_ticks) {
      const double x = crisp(r.px(f.x, t.value));
      if (grid) {
        cairo_set_source_rgb(cr, t.major ? 0.87 : 0.95, t.major ? 0.87 : 0.95, t.major ? 0.87 : 0.95);
        cairo_move_to(cr, x, r.y0);
        cairo_line_to(cr, x, r.y1);
      } else {
        set_color(cr, kBlack);
        cairo_move_to(cr, x, r.y1);
        cairo_line_to(cr, x, r.y1 - (t.major ? L.tick_length : L.tick_length / 2));
      }
      cairo_stroke(cr);
    }
    for (const Tick& t : L.y_ticks) {
      const double y = crisp(r.py(f.y, t.value));
      if (grid) {
        cairo_set_source_rgb(cr, t.major ? 0.87 : 0.95, t.major ? 0.87 : 0.95, t.major ? 0.87 : 0.95);
        cairo_move_to(cr, r.x0, y);
        cairo_line_to(cr, r.x1, y);
      } else {
        set_color(cr, kBlack);
        cairo_move_to(cr, r.x0, y);
        cairo_line_to(cr, r.x0 + (t.major ? L.tick_length : L.tick_length / 2), y);
      }
      cairo_stroke(cr);
    }
  }
  cairo_set_source_rgb(cr, 0.13, 0.13, 0.13);
  for (const Tick& t : L.x_ticks)
    pen.draw(t.label, r.px(f.x, t.value), r.y1 + L.tick_gap, FontRole::tick, HAlign::center, VAlign::top);
  for (const Tick& t : L.y_ticks)
    pen.draw(t.label, r.x0 - L.tick_gap, r.py(f.y, t.value), FontRole::tick, HAlign::right, VAlign::middle);
}

void draw_legend(cairo_t* cr, TextPen& pen, const LegendLayout& g, const Figure& f) {
  if (!g.shown) return;
  const Box& b = g.box;
  cairo_rectangle(cr, crisp(b.x0), crisp(b.y0), std::round(b.x1 - b.x0), std::round(b.y1 - b.y0));
  cairo_set_source_rgba(cr, 1, 1, 1, 0.92);
  cairo_fill_preserve(cr);
  cairo_set_source_rgb(cr, 0.7, 0.7, 0.7);
  cairo_set_line_width(cr, 1);
  cairo_stroke(cr);
  const double th = pen.height(FontRole::legend);
  for (size_t k = 0; k < g.lines.size(); ++k) {
    const Line& l = f.lines[g.lines[k]];
    const double mid = b.y0 + g.padding + double(k) * g.row_height + th / 2;
    const double sx = b.x0 + g.padding;
    stroke_line_style(cr, l);
    set_color(cr, l.color);
    cairo_move_to(cr, sx, mid);
    cairo_line_to(cr, sx + g.sample_width, mid);
    cairo_stroke(cr);
    cairo_set_dash(cr, nullptr, 0, 0);
    set_color(cr, kBlack);
    size_t col = 0, start = 0;
    const std::string& s = l.label;
    for (size_t i = 0; i <= s.size(); ++i) {
      if (i < s.size() && s[i] != '\t') continue;
      pen.draw(s.substr(start, i - start), sx + g.sample_width + g.gap + g.column_x[col], mid, FontRole::legend,
               HAlign::left, VAlign::middle);
      ++col;
      start = i + 1;
    }
  }
}

}  // namespace

bool clip_segment(double& x0, double& y0, double& x1, double& y1, double bx0, double by0, double bx1, double by1) {
  const double dx = x1 - x0, dy = y1 - y0;
  double t0 = 0, t1 = 1;
  const double p[] = {-dx, dx, -dy, dy}, q[] = {x0 - bx0, bx1 - x0, y0 - by0, by1 - y0};
  for (int i = 0; i < 4; ++i) {
    if (p[i] == 0) {
      if (q[i] < 0) return false;
      continue;
    }
    const double t = q[i] / p[i];
    if (p[i] < 0)
      t0 = std::max(t0, t);
    else
      t1 = std::min(t1, t);
    if (t0 > t1) return false;
  }
  const double sx = x0, sy = y0;
  if (t1 < 1) x1 = sx + t1 * dx, y1 = sy + t1 * dy;
  if (t0 > 0) x0 = sx + t0 * dx, y0 = sy + t0 * dy;
  return true;
}

RenderInfo draw_figure(cairo_t* cr, const Figure& f) {
  TextPen pen(cr);
  const Layout L = layout_figure(pen, f);
  const PlotRect& r = L.area;

  cairo_set_source_rgb(cr, 1, 1, 1);
  cairo_paint(cr);

  const double cx = (r.x0 + r.x1) / 2;
  set_color(cr, kBlack);
  pen.draw(f.title, cx, L.title_baseline, FontRole::title, HAlign::center, VAlign::baseline);
  set_color(cr, kGrey);
  pen.draw(f.subtitle, cx, L.subtitle_baseline, FontRole::subtitle, HAlign::center, VAlign::baseline);

  draw_grid_and_ticks(cr, pen, L, f);

  cairo_save(cr);
  cairo_rectangle(cr, r.x0, r.y0, r.x1 - r.x0, r.y1 - r.y0);
  cairo_clip(cr);
  // Dashed reference lines (random guess) first, so the data curves are drawn over them.
  for (const Line& l : f.lines)
    if (l.style == LineStyle::dashed) draw_line(cr, r, f, l);
  for (const Line& l : f.lines)
    if (l.style != LineStyle::dashed) draw_line(cr, r, f, l);
  for (const Disc& d : f.discs) {
    const double x = r.px(f.x, d.x), y = r.py(f.y, d.y);
    if (!std::isfinite(x) || !std::isfinite(y)) continue;
    cairo_new_sub_path(cr);
    cairo_arc(cr, x, y, d.radius, 0, 2 * M_PI);
    set_color(cr, d.color, 0.85);
    cairo_fill_preserve(cr);
    set_color(cr, kBlack);
    cairo_set_line_width(cr, 1);
    cairo_stroke(cr);
  }
  cairo_restore(cr);

  set_color(cr, kBlack);
  cairo_set_line_width(cr, 1);
  cairo_rectangle(cr, crisp(r.x0), crisp(r.y0), std::round(r.x1 - r.x0), std::round(r.y1 - r.y0));
  cairo_stroke(cr);

  pen.draw(f.x.title, cx, L.x_title_bottom, FontRole::axis_title, HAlign::center, VAlign::bottom);
  pen.draw(f.y.title, L.y_title_left, (r.y0 + r.y1) / 2, FontRole::axis_title, HAlign::center, VAlign::top, true);

  draw_legend(cr, pen, L.legend, f);

  for (size_t i = 0; i < f.discs.size(); ++i) {
    const Box& b = L.disc_labels[i];
    if (f.discs[i].label.empty() || !(b.x1 > b.x0)) continue;
    // A pale backing keeps a label readable where it has to cross a grid or data line.
    cairo_rectangle(cr, b.x0 - 2, b.y0, b.x1 - b.x0 + 4, b.y1 - b.y0);
    cairo_set_source_rgba(cr, 1, 1, 1, 0.8);
    cairo_fill(cr);
    set_color(cr, kBlack);
    pen.draw(f.discs[i].label, b.x0, (b.y0 + b.y1) / 2, FontRole::label, HAlign::left, VAlign::middle);
  }
  return {r, std::move(pen.drawn())};
}

}  // namespace sp::plot
