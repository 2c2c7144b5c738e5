// Where everything of a figure goes before anything is drawn: margins sized from the measured tick labels and
// titles (so no text is clipped), the plot area, the legend box in the corner that hides the fewest data
// points, and each disc's label on the first side of its disc where it overlaps nothing. Used by
// plot/cairo_draw.cpp; tested through tests/test_plot.cpp (text inside the image, curves where the axes say).
#pragma once
#include <vector>

#include "plot/cairo_text.h"
#include "plot/figure.h"
#include "plot/ticks.h"
#include "plot/write_figure.h"

namespace sp::plot {

struct Box {
  double x0 = 0, y0 = 0, x1 = 0, y1 = 0;
  bool overlaps(const Box& b) const { return x0 < b.x1 && b.x0 < x1 && y0 < b.y1 && b.y0 < y1; }
  bool inside(const Box& b) const { return x0 >= b.x0 && x1 <= b.x1 && y0 >= b.y0 && y1 <= b.y1; }
};

struct LegendLayout {
  bool shown = false;
  Box box;
  std::vector<size_t> lines;       // indices of the figure's lines with a legend entry, in order
  std::vector<double> column_x;    // left edge of each tab-separated column, relative to the first
  double row_height = 0, sample_width = 0, padding = 0, gap = 0;
};

struct Layout {
  PlotRect area;
  std::vector<Tick> x_ticks, y_ticks;
  double title_baseline = 0, subtitle_baseline = 0;  // of the centred title lines
  double x_title_bottom = 0, y_title_left = 0;       // outer edges of the axis titles
  double tick_length = 6, tick_gap = 5;              // major tick length; gap between axis and its labels
  LegendLayout legend;
  std::vector<Box> disc_labels;  // the text box of each disc's label (empty box for no label)
};

Layout layout_figure(TextPen& pen, const Figure& f);

// The pixel polyline pieces of a line: consecutive points the axes can show, split where one cannot.
std::vector<std::vector<std::pair<double, double>>> pixel_pieces(const PlotRect& r, const Figure& f, const Line& l);

}  // namespace sp::plot
