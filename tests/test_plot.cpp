// The plotting module (plot/): tick positions and labels, axis mapping and figure validation (always), and,
// where the build has cairo, the drawing: the SVG is well formed with the figure's words in it and its text
// drawn as glyphs, the PNG has the figure's size with the curves' colours where the axes put the data and no
// text cut off at the edges, both files are written atomically side by side, and bad output paths or figures
// give errors naming the file. In a build without cairo, write_figure says so and writes nothing.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "kernels/error.h"
#include "plot/figure.h"
#include "plot/ticks.h"
#include "plot/write_figure.h"
#include "tests/lira_test_util.h"
#include "tests/plot_test_util.h"
#include "tests/test_util.h"

using namespace sp;
using namespace sp::plot;
namespace fs = std::filesystem;

namespace {

std::vector<std::string> labels(const std::vector<Tick>& ticks) {
  std::vector<std::string> out;
  for (const Tick& t : ticks)
    if (t.major) out.push_back(t.label);
  return out;
}

// Two log axes and a red staircase through known points, with a legend entry and a dashed diagonal.
Figure sample_figure() {
  Figure f;
  f.title = "Sample <plot> & more";
  f.x = {"False positive rate", Scale::log, 1e-4, 1, TickStyle::power_of_ten};
  f.y = {"True positive rate", Scale::log, 1e-4, 1, TickStyle::power_of_ten};
  Line l;
  l.label = "online\tAUC 0.700";
  l.x = {0.0, 1e-3, 1e-2, 1e-1, 1.0};  // the first point lies off the log axis
  l.y = {0.05, 0.05, 0.05, 0.5, 1.0};
  l.color = {1, 0, 0};
  l.width = 3;
  f.lines.push_back(l);
  Line d;
  d.label = "random guess";
  d.x = d.y = {1e-4, 1};
  d.color = {0, 0, 1};
  d.style = LineStyle::dashed;
  f.lines.push_back(d);
  return f;
}

}  // namespace

TEST(Plot, LinearTicksAtRoundSteps) {
  Axis a{"acc", Scale::linear, 0, 1, TickStyle::number};
  EXPECT_EQ(labels(axis_ticks(a)), (std::vector<std::string>{"0.0", "0.2", "0.4", "0.6", "0.8", "1.0"}));
  a = {"it", Scale::linear, 0, 200, TickStyle::number};
  EXPECT_EQ(labels(axis_ticks(a)), (std::vector<std::string>{"0", "50", "100", "150", "200"}));
  a = {"acc", Scale::linear, 0.6, 0.95, TickStyle::percent};
  EXPECT_EQ(labels(axis_ticks(a)), (std::vector<std::string>{"60%", "65%", "70%", "75%", "80%", "85%", "90%", "95%"}));
  a = {"loss", Scale::linear, -0.3, 0.3, TickStyle::number};
  EXPECT_EQ(labels(axis_ticks(a)), (std::vector<std::string>{"-0.3", "-0.2", "-0.1", "0.0", "0.1", "0.2", "0.3"}));
  EXPECT_DOUBLE_EQ(linear_tick_step(0, 1), 0.2);
  EXPECT_DOUBLE_EQ(linear_tick_step(0, 7), 1);
  const Range r = nice_range(0.13, 2.9);
  EXPECT_DOUBLE_EQ(r.min, 0);
  EXPECT_DOUBLE_EQ(r.max, 3);
  const Range one = nice_range(2, 2);  // a single value still gets a range
  EXPECT_LT(one.min, 2);
  EXPECT_GT(one.max, 2);
}

TEST(Plot, LogTicksAtDecadesWithMinorTicks) {
  Axis a{"fpr", Scale::log, 1e-5, 1, TickStyle::power_of_ten};
  const std::vector<Tick> t = axis_ticks(a);
  EXPECT_EQ(labels(t), (std::vector<std::string>{"10⁻⁵", "10⁻⁴", "10⁻³", "10⁻²", "10⁻¹", "10⁰"}));
  size_t minor = 0;
  for (const Tick& k : t) minor += !k.major && k.label.empty();
  EXPECT_EQ(minor, 5u * 8u);
  a = {"tpr", Scale::log, 5e-4, 1, TickStyle::percent};
  EXPECT_EQ(labels(axis_ticks(a)), (std::vector<std::string>{"0.1%", "1%", "10%", "100%"}));
  a = {"x", Scale::log, 1e-2, 1e2, TickStyle::number};
  EXPECT_EQ(labels(axis_ticks(a)), (std::vector<std::string>{"0.01", "0.1", "1", "10", "100"}));
  a = {"wide", Scale::log, 1e-20, 1, TickStyle::power_of_ten};  // labels thinned, never crowded
  EXPECT_LE(labels(axis_ticks(a)).size(), 11u);
}

TEST(Plot, AxisFractionAndValidation) {
  Axis lin{"x", Scale::linear, 2, 4, TickStyle::number};
  EXPECT_DOUBLE_EQ(lin.fraction(3), 0.5);
  Axis lg{"y", Scale::log, 1e-3, 1, TickStyle::number};
  EXPECT_NEAR(lg.fraction(1e-2), 1.0 / 3, 1e-12);
  EXPECT_TRUE(std::isinf(lg.fraction(0)));
  EXPECT_TRUE(std::isnan(lg.fraction(NAN)));
  EXPECT_EQ(palette(0).r, palette(10).r);

  Figure f = sample_figure();
  EXPECT_NO_THROW(validate(f, "ok.png"));
  f.y.min = 0;
  test::expect_error_mentioning([&] { validate(f, "bad/roc.png"); }, "bad/roc.png");
  f = sample_figure();
  f.lines[0].y.pop_back();
  test::expect_error_mentioning([&] { validate(f, "bad.png"); }, "online");
  f = sample_figure();
  f.width = 0;
  test::expect_error_mentioning([&] { validate(f, "tiny.png"); }, "tiny.png");
}

TEST(Plot, SvgIsWellFormedAndHoldsTheFiguresText) {
  SP_REQUIRE_PLOTS();
  const Figure f = sample_figure();
  RenderInfo info;
  const std::string svg = render_svg(f, "sample.svg", &info);
  EXPECT_EQ(test::svg_structure_error(svg), "");
  EXPECT_NE(svg.find("width=\"800px\""), std::string::npos) << svg.substr(0, 300);
  EXPECT_NE(svg.find("<title>Sample &lt;plot&gt; &amp; more</title>"), std::string::npos);
  const std::string desc = test::svg_desc(svg);
  for (const char* want : {"False positive rate", "True positive rate", "online", "AUC 0.700", "random guess", "10⁻⁴", "10⁰"})
    EXPECT_NE(desc.find(want), std::string::npos) << want << " missing from <desc>: " << desc;
  // cairo draws text as glyphs: many glyph uses, so the words are in the picture and not only in <desc>.
  size_t uses = 0;
  for (size_t at = 0; (at = svg.find("xlink:href=\"#glyph", at)) != std::string::npos; ++at) ++uses;
  EXPECT_GT(uses, 60u);
  // The plot area is inside the image and the axis mapping is the one the lines were drawn with.
  EXPECT_GT(info.area.x0, 40);
  EXPECT_LT(info.area.x1, f.width);
  EXPECT_NEAR(info.area.px(f.x, 1e-4), info.area.x0, 1e-9);
  EXPECT_NEAR(info.area.py(f.y, 1.0), info.area.y0, 1e-9);
}

TEST(Plot, PngHasTheSizeAndTheCurvesWhereTheAxesSay) {
  SP_REQUIRE_PLOTS();
  const Figure f = sample_figure();
  RenderInfo info;
  const test::Image im = test::decode_png(render_png(f, "sample.png", &info));
  ASSERT_EQ(im.width, f.width);
  ASSERT_EQ(im.height, f.height);
  const PlotRect& r = info.area;
  // On the flat part of the red staircase (TPR 5% between FPR 1e-3 and 1e-2), and on its rise to (0.1, 0.5).
  EXPECT_TRUE(test::drawn_near(im, r.px(f.x, 3e-3), r.py(f.y, 0.05), {1, 0, 0}));
  EXPECT_TRUE(test::drawn_near(im, r.px(f.x, std::pow(10.0, -1.5)), r.py(f.y, std::sqrt(0.05 * 0.5)), {1, 0, 0}));
  // Not where there is no data: halfway up at the left edge.
  EXPECT_FALSE(test::drawn_near(im, r.px(f.x, 2e-4), r.py(f.y, 0.3), {1, 0, 0}, 3));
  // The dashed blue diagonal: some blue pixel along a stretch of it.
  bool blue = false;
  for (double v = 1e-3; v < 1e-2 && !blue; v *= 1.2) blue = test::drawn_near(im, r.px(f.x, v), r.py(f.y, v), {0, 0, 1}, 1);
  EXPECT_TRUE(blue);
  // Dark (text, frame) pixels exist; nothing reaches the image's edges.
  size_t dark = 0;
  for (size_t i = 0; i < im.rgb.size(); i += 3) dark += im.rgb[i] < 80 && im.rgb[i + 1] < 80 && im.rgb[i + 2] < 80;
  EXPECT_GT(dark, 2000u);
  EXPECT_TRUE(test::white_border(im));
}

TEST(Plot, FarOffscreenPointsAndGapsDrawWithoutError) {
  SP_REQUIRE_PLOTS();
  Figure f = sample_figure();
  f.lines[0].x = {1e-300, 1e-3, NAN, 0.5, 1e300};
  f.lines[0].y = {1e-300, 1e-2, 0.3, 0.5, 1e300};
  Line dot;
  dot.x = {0.5};
  dot.y = {0.01};
  dot.color = {0, 0.6, 0};
  f.lines.push_back(dot);
  f.discs.push_back({0.0, 0.5, 8, palette(2), "off-axis disc"});  // x = 0 lies off the log axis
  f.discs.push_back({0.3, 0.02, 8, palette(2), "shown disc"});
  RenderInfo info;
  test::Image im;
  ASSERT_NO_THROW(im = test::decode_png(render_png(f, "far.png", &info)));
  // The segment from the far corner to (1e-3, 1e-2) is drawn along its true slope inside the plot.
  const PlotRect& r = info.area;
  EXPECT_TRUE(test::drawn_near(im, r.px(f.x, 1e-3), r.py(f.y, 1e-2), {1, 0, 0}));
  // In log space that segment runs from (-300, -300) to (-3, -2): at x = -3.5 it is at y = -2 - 0.5 * 298 / 297.
  EXPECT_TRUE(test::drawn_near(im, r.px(f.x, std::pow(10.0, -3.5)), r.py(f.y, std::pow(10.0, -2 - 0.5 * 298 / 297)),
                               {1, 0, 0}));
  EXPECT_TRUE(test::drawn_near(im, r.px(f.x, 0.5), r.py(f.y, 0.01), {0, 0.6, 0}));  // a lone point is a dot
  RenderInfo svg_info;
  ASSERT_NO_THROW(render_svg(f, "far.svg", &svg_info));
  const auto& texts = svg_info.texts;
  EXPECT_EQ(std::count(texts.begin(), texts.end(), "off-axis disc"), 0);  // no label for a disc not drawn
  EXPECT_EQ(std::count(texts.begin(), texts.end(), "shown disc"), 1);
}

TEST(Plot, WriteFigureWritesBothFilesOrSaysWhyNot) {
  test::TempDir t;
  const Figure f = sample_figure();
  if (!plots_available()) {
    ::testing::internal::CaptureStderr();
    EXPECT_TRUE(write_figure(f, t / "fig").empty());
    const std::string note = ::testing::internal::GetCapturedStderr();
    EXPECT_NE(note.find("SP_CAIRO=OFF"), std::string::npos) << note;
    EXPECT_NE(note.find(t / "fig"), std::string::npos) << note;
    EXPECT_FALSE(fs::exists(t / "fig.png"));
    EXPECT_THROW(render_png(f, "x.png"), Error);
    return;
  }
  EXPECT_EQ(write_figure(f, t / "fig"), (std::vector<std::string>{t / "fig.png", t / "fig.svg"}));
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(t.path())) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"fig.png", "fig.svg"}));  // no temporaries left behind
  EXPECT_EQ(test::read_text(t / "fig.png").substr(1, 3), "PNG");
  EXPECT_EQ(test::decode_png(test::read_text(t / "fig.png")).width, f.width);
  EXPECT_EQ(test::svg_structure_error(test::read_text(t / "fig.svg")), "");
}

TEST(Plot, BadOutputPathOrFigureNamesTheFile) {
  SP_REQUIRE_PLOTS();
  test::TempDir t;
  const std::string stem = t / "no/such/dir/roc";
  test::expect_error_mentioning([&] { write_figure(sample_figure(), stem); }, stem + ".svg");
  EXPECT_FALSE(fs::exists(t / "no"));
  Figure bad = sample_figure();
  bad.x.max = bad.x.min;
  test::expect_error_mentioning([&] { write_figure(bad, t / "bad"); }, t / "bad.svg");
  test::expect_error_mentioning([&] { render_png(bad, "named.png"); }, "named.png");
  EXPECT_FALSE(fs::exists(t / "bad.png"));
}
