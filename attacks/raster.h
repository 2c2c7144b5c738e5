// A small RGB canvas for plots: pixels, rectangles, thick (optionally dashed) lines clipped to a
// rectangle, and text in the 5x7 bitmap font, horizontal or rotated to read bottom-to-top. Tested in
// tests/test_lira_plot.cpp.
#pragma once
#include <cstdint>
#include <string_view>
#include <vector>

namespace sp::lira {

struct Rgb {
  uint8_t r, g, b;
};

class Canvas {
 public:
  Canvas(int width, int height, Rgb background);
  int width() const { return w_; }
  int height() const { return h_; }
  const std::vector<uint8_t>& pixels() const { return px_; }
  Rgb at(int x, int y) const;

  // Drawing outside [x0, x1] x [y0, y1] (inclusive) is discarded until reset_clip().
  void set_clip(int x0, int y0, int x1, int y1);
  void reset_clip();

  void set(int x, int y, Rgb c);
  void fill_rect(int x0, int y0, int x1, int y1, Rgb c);  // inclusive corners
  // A line of the given thickness (square brush); dash > 0 draws dash pixels on, dash pixels off.
  void line(double x0, double y0, double x1, double y1, Rgb c, int thickness = 1, int dash = 0);
  // Text with its top-left corner at (x, y), each font pixel drawn as scale x scale.
  void text(int x, int y, std::string_view s, Rgb c, int scale = 1);
  // Text rotated 90 degrees counter-clockwise, reading upwards, starting at bottom-left (x, y).
  void text_up(int x, int y, std::string_view s, Rgb c, int scale = 1);
  static int text_width(std::string_view s, int scale = 1);
  static int text_height(int scale = 1);

 private:
  int w_, h_;
  int cx0_, cy0_, cx1_, cy1_;
  std::vector<uint8_t> px_;
};

}  // namespace sp::lira
