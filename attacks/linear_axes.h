// A frame for the small linear-axis plots of the reports (distillation loss curves, DFKD's distance CDFs): the
// plot area inside fixed margins of a 640 x 400 canvas, the data-to-pixel maps, and the axes with 5 grid lines
// per axis, tick labels, axis titles and a title, drawn on the canvas of attacks/raster.h. Tested through
// tests/test_distill.cpp and tests/test_dfkd_synthesis.cpp (their plots are written).
#pragma once
#include <string>

#include "attacks/raster.h"

namespace sp::lira {

struct LinearAxes {
  int width = 640, height = 400, left = 90, right = 20, top = 40, bottom = 60;
  double xmin = 0, xmax = 1, ymin = 0, ymax = 1;
  double px(double x) const { return left + (x - xmin) / (xmax - xmin) * (width - left - right); }
  double py(double y) const { return height - bottom - (y - ymin) / (ymax - ymin) * (height - top - bottom); }
  void clip_to_plot(Canvas& c) const { c.set_clip(left, top, width - right, height - bottom); }
};

struct AxisText {
  const char* x_format = "%.3g";  // tick labels
  const char* y_format = "%.3g";
  std::string x_title, y_title, title;
  int x_title_scale = 2;
};

// A white canvas of the axes' size with the grid, ticks, axis lines and titles; curves are drawn on it after
// (clip_to_plot, then reset_clip for the legend).
Canvas draw_linear_axes(const LinearAxes& a, const AxisText& text);

}  // namespace sp::lira
