// The LiRA report's plotting: the PNG encoder of data/png.h (chunk layout, CRCs, and inflating IDAT gives back
// the pixels), and the ROC plot (log axes from 1e-5 to 1, one curve per attack plus the dashed random-guess
// diagonal; in the PNG, curve and diagonal pixels where the log axes put them; the SVG names every attack).
#include <gtest/gtest.h>
#include <zlib.h>

#include <cmath>

#include "kernels/error.h"
#include "attacks/roc_plot.h"
#include "data/png.h"
#include "plot/write_figure.h"
#include "tests/lira_test_util.h"
#include "tests/plot_test_util.h"

using namespace sp;
using namespace sp::lira;

namespace {

uint32_t be32(const std::string& s, size_t at) {
  return uint32_t(uint8_t(s[at])) << 24 | uint32_t(uint8_t(s[at + 1])) << 16 | uint32_t(uint8_t(s[at + 2])) << 8 |
         uint32_t(uint8_t(s[at + 3]));
}

}  // namespace

TEST(LiraPlot, PngStructureAndPixels) {
  const int w = 3, h = 2;
  std::vector<uint8_t> px{255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30, 40, 50, 60, 70, 80, 90};
  std::string png = encode_png_rgb(w, h, px);
  ASSERT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  size_t at = 8;
  std::string idat;
  std::vector<std::string> types;
  while (at < png.size()) {
    uint32_t len = be32(png, at);
    std::string type = png.substr(at + 4, 4), data = png.substr(at + 8, len);
    uLong crc = crc32(0L, Z_NULL, 0);
    crc = crc32(crc, reinterpret_cast<const Bytef*>(png.data() + at + 4), uInt(len + 4));
    EXPECT_EQ(be32(png, at + 8 + len), uint32_t(crc)) << type;
    types.push_back(type);
    if (type == "IHDR") {
      EXPECT_EQ(be32(data, 0), uint32_t(w));
      EXPECT_EQ(be32(data, 4), uint32_t(h));
      EXPECT_EQ(data.substr(8), std::string("\x08\x02\x00\x00\x00", 5));
    }
    if (type == "IDAT") idat += data;
    at += 12 + len;
  }
  EXPECT_EQ(types, (std::vector<std::string>{"IHDR", "IDAT", "IEND"}));
  std::vector<uint8_t> raw(size_t((w * 3 + 1) * h));
  uLongf rl = uLongf(raw.size());
  ASSERT_EQ(uncompress(raw.data(), &rl, reinterpret_cast<const Bytef*>(idat.data()), uLong(idat.size())), Z_OK);
  ASSERT_EQ(rl, raw.size());
  for (int y = 0; y < h; ++y) {
    EXPECT_EQ(raw[size_t(y * (w * 3 + 1))], 0);  // filter type none
    for (int k = 0; k < w * 3; ++k) EXPECT_EQ(raw[size_t(y * (w * 3 + 1) + 1 + k)], px[size_t(y * w * 3 + k)]);
  }
  EXPECT_THROW(encode_png_rgb(2, 2, px), Error);
}

TEST(LiraPlot, RocFigureHasLogAxesCurvesAndTheDiagonal) {
  PlotCurve c{"online\tAUC 0.700", {0.0, 1e-4, 1e-3, 1e-1, 1.0}, {0.0, 1e-2, 1e-2, 0.5, 1.0}};
  const plot::Figure f = roc_figure({c, c}, "title");
  EXPECT_EQ(f.x.scale, plot::Scale::log);
  EXPECT_EQ(f.y.scale, plot::Scale::log);
  EXPECT_DOUBLE_EQ(f.x.min, kRocPlotMin);
  EXPECT_DOUBLE_EQ(f.y.max, 1.0);
  ASSERT_EQ(f.lines.size(), 3u);
  EXPECT_EQ(f.lines[0].x, c.fpr);
  EXPECT_NE(f.lines[0].color.b, f.lines[1].color.b);  // one colour per attack
  EXPECT_EQ(f.lines[2].style, plot::LineStyle::dashed);
  EXPECT_EQ(f.lines[2].label, "random guess");
  EXPECT_EQ(f.lines[2].x, (std::vector<double>{kRocPlotMin, 1.0}));
}

TEST(LiraPlot, RocPngPutsCurvesWhereTheLogAxesSay) {
  SP_REQUIRE_PLOTS();
  PlotCurve c{"online", {0.0, 1e-4, 1e-3, 1e-1, 1.0}, {0.0, 1e-2, 1e-2, 0.5, 1.0}};
  const plot::Figure f = roc_figure({c}, "title");
  plot::RenderInfo info;
  const sp::test::Image im = sp::test::decode_png(plot::render_png(f, "roc.png", &info));
  ASSERT_EQ(im.width, f.width);
  ASSERT_EQ(im.height, f.height);
  const plot::PlotRect& r = info.area;
  // On the horizontal segment at TPR 1e-2 between FPR 1e-4 and 1e-3.
  EXPECT_TRUE(sp::test::drawn_near(im, r.px(f.x, 3e-4), r.py(f.y, 1e-2), plot::palette(0)));
  // The dashed grey diagonal passes somewhere between 1e-3 and 1e-2 (a dash may leave a gap at one point).
  bool grey = false;
  for (double v = 1e-3; v < 1e-2 && !grey; v *= 1.15)
    grey = sp::test::drawn_near(im, r.px(f.x, v), r.py(f.y, v), plot::kGrey, 1, 30);
  EXPECT_TRUE(grey);
  EXPECT_TRUE(sp::test::white_border(im));
}

TEST(LiraPlot, RocPlotWritesPngAndSvgNamingEveryAttack) {
  SP_REQUIRE_PLOTS();
  sp::test::TempDir t;
  std::vector<PlotCurve> curves = {{"online\tAUC 0.812", {1e-4, 1.0}, {1e-2, 1.0}},
                                   {"offline\tAUC 0.701", {1e-4, 1.0}, {1e-3, 1.0}},
                                   {"global_threshold\tAUC 0.550", {1e-4, 1.0}, {1e-4, 1.0}}};
  EXPECT_EQ(write_roc_plot(t / "roc", curves, "LiRA ROC: 4 models"),
            (std::vector<std::string>{t / "roc.png", t / "roc.svg"}));
  EXPECT_EQ(sp::test::read_text(t / "roc.png").substr(1, 3), "PNG");
  const std::string svg = sp::test::read_text(t / "roc.svg");
  EXPECT_EQ(sp::test::svg_structure_error(svg), "");
  const std::string desc = sp::test::svg_desc(svg);
  for (const char* want : {"online", "offline", "global_threshold", "AUC 0.812", "random guess", "False positive rate",
                           "True positive rate", "LiRA ROC: 4 models", "10⁻⁵"})
    EXPECT_NE(desc.find(want), std::string::npos) << want;
}
