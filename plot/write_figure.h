// Drawing a Figure (plot/figure.h) and writing it: the same cairo drawing goes to an SVG surface (vector, for
// the HTML reports) and to an image surface (PNG, for the Markdown reports), and both files are written
// atomically. In a build configured with -DSP_CAIRO=OFF nothing is drawn: write_figure prints a note naming
// the plots it skipped and returns no paths. Tested in tests/test_plot.cpp (SVG text and structure, PNG size
// and curve pixels where the axes say, errors naming the file, the note of a build without cairo).
#pragma once
#include <string>
#include <vector>

#include "plot/figure.h"

namespace sp::plot {

// Whether this build draws plots (configured with SP_CAIRO=ON).
bool plots_available();

// The plot area in pixels (y grows downwards), and where data lands in it.
struct PlotRect {
  double x0 = 0, y0 = 0, x1 = 0, y1 = 0;
  double px(const Axis& a, double v) const { return x0 + a.fraction(v) * (x1 - x0); }
  double py(const Axis& a, double v) const { return y1 - a.fraction(v) * (y1 - y0); }
};

struct RenderInfo {
  PlotRect area;
  std::vector<std::string> texts;  // every text drawn, in order (title, ticks, axis titles, legend, labels)
};

// The figure as SVG or PNG bytes. cairo's SVG surface draws text as glyph outlines, so the SVG carries the
// words in <title> and <desc> too (for screen readers, search and tests). `name` is the file the bytes are
// for, named in errors. Throws sp::Error when the figure is invalid, cairo fails, or plots are unavailable.
std::string render_svg(const Figure& f, const std::string& name, RenderInfo* info = nullptr);
std::string render_png(const Figure& f, const std::string& name, RenderInfo* info = nullptr);

// Writes STEM.png and STEM.svg (both drawn before either is written) and returns their paths; returns none,
// after printing a note to stderr, in a build without cairo.
std::vector<std::string> write_figure(const Figure& f, const std::string& stem);

}  // namespace sp::plot
