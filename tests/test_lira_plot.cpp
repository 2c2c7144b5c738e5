// The LiRA report's ROC plot (log axes from 1e-5 to 1, one curve per attack plus the dashed random-guess
// diagonal; in the PNG, curve and diagonal pixels where the log axes put them; the SVG names every attack).
// The PNG encoder itself is tested in tests/test_data_png.cpp.
#include <gtest/gtest.h>

#include <cmath>

#include "kernels/error.h"
#include "attacks/roc_plot.h"
#include "plot/write_figure.h"
#include "tests/lira_test_util.h"
#include "tests/plot_test_util.h"

using namespace sp;
using namespace sp::lira;

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
