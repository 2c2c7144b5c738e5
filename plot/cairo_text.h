// Text on a cairo context for the plots: DejaVu Sans (found by fontconfig through cairo's text API) at the
// few sizes the figures use, measured and drawn anchored to a point, horizontal or reading upwards, with every
// drawn string recorded. Metric hinting is off so the SVG and the PNG lay out identically. Used by
// plot/cairo_layout.cpp and plot/cairo_draw.cpp; tested through tests/test_plot.cpp.
#pragma once
#include <cairo.h>

#include <string>
#include <vector>

namespace sp::plot {

enum class FontRole { title, subtitle, axis_title, tick, legend, label };
enum class HAlign { left, center, right };
enum class VAlign { top, middle, baseline, bottom };

class TextPen {
 public:
  explicit TextPen(cairo_t* cr);
  double width(const std::string& s, FontRole role);
  double height(FontRole role);  // ascent + descent of the font
  // Draws s with its anchor at (x, y); `upwards` rotates it to read bottom-to-top around the anchor.
  void draw(const std::string& s, double x, double y, FontRole role, HAlign h, VAlign v, bool upwards = false);
  std::vector<std::string>& drawn() { return drawn_; }

 private:
  void use(FontRole role);
  cairo_t* cr_;
  std::vector<std::string> drawn_;
};

}  // namespace sp::plot
