// The plotting stack: bitmap font coverage, canvas drawing and clipping, and the ROC plot's geometry (curve and diagonal pixels
// where the log axes put them).
#include <gtest/gtest.h>

#include <cmath>

#include "attacks/bitmap_font.h"
#include "kernels/error.h"
#include "attacks/raster.h"
#include "attacks/roc_plot.h"
#include "data/png.h"
#include "tests/lira_test_util.h"

using namespace sp;
using namespace sp::lira;

namespace {

bool same(Rgb a, Rgb b) { return a.r == b.r && a.g == b.g && a.b == b.b; }

}  // namespace

TEST(LiraPlot, FontCoversTheLabels) {
  std::string need = " 0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.,-+=%@():/_";
  for (char c : need) {
    bool found = false;
    const auto& g = glyph(c, &found);
    EXPECT_TRUE(found) << "no glyph for '" << c << "'";
    int on = 0;
    for (uint8_t row : g) {
      EXPECT_LT(row, 32);
      on += __builtin_popcount(row);
    }
    EXPECT_EQ(on == 0, c == ' ') << "'" << c << "'";
  }
  bool found = true;
  EXPECT_EQ(&glyph('\x01', &found), &glyph('?'));
  EXPECT_FALSE(found);
  EXPECT_NE(glyph('O'), glyph('0'));
  EXPECT_NE(glyph('l'), glyph('1'));
}

TEST(LiraPlot, CanvasDrawsAndClips) {
  Canvas c(40, 30, {255, 255, 255});
  const Rgb red{255, 0, 0};
  c.line(2, 2, 20, 2, red);
  EXPECT_TRUE(same(c.at(2, 2), red));
  EXPECT_TRUE(same(c.at(20, 2), red));
  EXPECT_TRUE(same(c.at(11, 2), red));
  EXPECT_TRUE(same(c.at(21, 2), {255, 255, 255}));
  c.set_clip(10, 10, 19, 19);
  c.line(0, 15, 39, 15, red, 3);
  EXPECT_TRUE(same(c.at(10, 15), red));
  EXPECT_TRUE(same(c.at(19, 16), red));
  EXPECT_TRUE(same(c.at(9, 15), {255, 255, 255}));
  EXPECT_TRUE(same(c.at(20, 15), {255, 255, 255}));
  c.line(-1e9, -1e9, -1e8, 1e9, red);  // far outside: nothing, and no long loop
  c.reset_clip();
  EXPECT_THROW(c.at(40, 0), Error);
  Canvas t(60, 20, {0, 0, 0});
  t.text(1, 1, "Hi", {255, 255, 255}, 2);
  int lit = 0;
  for (int y = 0; y < 20; ++y)
    for (int x = 0; x < 60; ++x) lit += t.at(x, y).r == 255;
  EXPECT_GT(lit, 20);
  EXPECT_EQ(Canvas::text_width("Hi", 2), 2 * 12 - 2);
  EXPECT_TRUE(same(t.at(1, 1), {255, 255, 255}));  // 'H' starts with a lit top-left pixel
}

TEST(LiraPlot, RocPlotGeometry) {
  PlotLayout L;
  EXPECT_DOUBLE_EQ(plot_x(L, 1.0), L.width - L.right);
  EXPECT_DOUBLE_EQ(plot_x(L, 1e-5), L.left);
  EXPECT_DOUBLE_EQ(plot_y(L, 1.0), L.top);
  EXPECT_DOUBLE_EQ(plot_y(L, 1e-5), L.height - L.bottom);
  EXPECT_TRUE(std::isinf(plot_x(L, 0.0)));
  PlotCurve c{"test", {0.0, 1e-4, 1e-3, 1e-1, 1.0}, {0.0, 1e-2, 1e-2, 0.5, 1.0}};
  Canvas cv = render_roc_plot({c}, "title", L);
  // A point on the horizontal segment at TPR 1e-2 between FPR 1e-4 and 1e-3.
  int x = int(std::lround(plot_x(L, 3e-4))), y = int(std::lround(plot_y(L, 1e-2)));
  EXPECT_TRUE(same(cv.at(x, y), curve_color(0)));
  // The dashed chance diagonal passes near (1e-2, 1e-2): some pixel around it is grey.
  int dx = int(std::lround(plot_x(L, 1e-2))), dy = int(std::lround(plot_y(L, 1e-2)));
  bool grey = false;
  for (int k = -6; k <= 6; ++k) grey = grey || same(cv.at(dx + k, dy - k * (L.height - L.top - L.bottom) / (L.width - L.left - L.right)), {150, 150, 150});
  EXPECT_TRUE(grey);
  sp::test::TempDir t;
  write_roc_plot(t / "roc.png", {c}, "title");
  EXPECT_EQ(sp::test::read_text(t / "roc.png").substr(1, 3), "PNG");
}
