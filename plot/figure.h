// What a report plot shows, independent of how it is drawn: two axes (linear or log), polylines with legend
// entries, labelled discs, a title and subtitle. The attack, audit and paradigm code fills a Figure and hands it
// to plot/write_figure.h, which draws it with cairo. Tested in tests/test_plot.cpp (axis mapping, palette).
#pragma once
#include <cstddef>
#include <string>
#include <vector>

namespace sp::plot {

struct Color {
  double r = 0, g = 0, b = 0;  // in [0, 1]
};

// Colour k of the categorical palette (matplotlib's tab10 order, so the plots read like the papers' figures).
Color palette(size_t k);
inline constexpr Color kBlack{0, 0, 0};
inline constexpr Color kGrey{0.45, 0.45, 0.45};

enum class Scale { linear, log };
// How tick labels are written: plain numbers, percentages of 1 ("0.1%"), or powers of ten ("10⁻³", log only).
enum class TickStyle { number, percent, power_of_ten };

struct Axis {
  std::string title;
  Scale scale = Scale::linear;
  double min = 0, max = 1;  // the shown range; for a log axis both > 0
  TickStyle ticks = TickStyle::number;

  // Where v lies between min (0) and max (1), on the axis' scale; -inf/+inf/NaN for values a log axis
  // cannot show (v <= 0). Throws sp::Error for an empty or (log) non-positive range.
  double fraction(double v) const;
};

enum class LineStyle { solid, dashed };

struct Line {
  // Legend entry; empty keeps the line out of the legend. Tabs split it into columns that the legend aligns
  // ("online\tAUC 0.61\tTPR 3.2%").
  std::string label;
  std::vector<double> x, y;  // points in order; a point the axes cannot show breaks the line
  Color color;
  double width = 2;
  LineStyle style = LineStyle::solid;
};

struct Disc {
  double x = 0, y = 0;   // data coordinates of the centre
  double radius = 6;     // in pixels
  Color color;
  std::string label;     // written beside the disc
};

enum class LegendPlace { automatic, upper_left, upper_right, lower_left, lower_right };

struct Figure {
  int width = 800, height = 560;  // pixels of the PNG; the SVG has the same size in CSS pixels
  std::string title, subtitle;
  Axis x, y;
  std::vector<Line> lines;
  std::vector<Disc> discs;
  LegendPlace legend = LegendPlace::automatic;  // automatic: the corner covering the fewest data points
};

// Throws sp::Error naming `what` when the figure cannot be drawn: a non-positive size, an empty or
// (log) non-positive axis range, a line whose x and y differ in length.
void validate(const Figure& f, const std::string& what);

}  // namespace sp::plot
