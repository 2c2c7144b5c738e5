// Plot text with cairo (see cairo_text.h).
#include "plot/cairo_text.h"

#include <cmath>

namespace sp::plot {

namespace {
struct FontSpec {
  double size;
  bool bold;
};
FontSpec spec(FontRole r) {
  switch (r) {
    case FontRole::title: return {17, true};
    case FontRole::subtitle: return {13, false};
    case FontRole::axis_title: return {14.5, false};
    case FontRole::tick: return {12.5, false};
    case FontRole::legend: return {12.5, false};
    case FontRole::label: return {12.5, false};
  }
  return {12, false};
}
}  // namespace

TextPen::TextPen(cairo_t* cr) : cr_(cr) {
  cairo_font_options_t* o = cairo_font_options_create();
  cairo_font_options_set_hint_metrics(o, CAIRO_HINT_METRICS_OFF);
  cairo_font_options_set_antialias(o, CAIRO_ANTIALIAS_GRAY);
  cairo_set_font_options(cr_, o);
  cairo_font_options_destroy(o);
}

void TextPen::use(FontRole role) {
  const FontSpec f = spec(role);
  cairo_select_font_face(cr_, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL,
                         f.bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(cr_, f.size);
}

double TextPen::width(const std::string& s, FontRole role) {
  use(role);
  cairo_text_extents_t e;
  cairo_text_extents(cr_, s.c_str(), &e);
  return e.x_advance;
}

double TextPen::height(FontRole role) {
  use(role);
  cairo_font_extents_t fe;
  cairo_font_extents(cr_, &fe);
  return fe.ascent + fe.descent;
}

void TextPen::draw(const std::string& s, double x, double y, FontRole role, HAlign h, VAlign v, bool upwards) {
  if (s.empty()) return;
  use(role);
  cairo_font_extents_t fe;
  cairo_font_extents(cr_, &fe);
  cairo_text_extents_t te;
  cairo_text_extents(cr_, s.c_str(), &te);
  // Vertical placement from the font's ascent and descent, not the string's ink, so labels of one row share
  // a baseline whatever letters they hold.
  double dx = h == HAlign::left ? 0 : h == HAlign::center ? -te.x_advance / 2 : -te.x_advance;
  double dy = v == VAlign::top      ? fe.ascent
              : v == VAlign::middle ? (fe.ascent - fe.descent) / 2
              : v == VAlign::bottom ? -fe.descent
                                    : 0;
  cairo_save(cr_);
  cairo_translate(cr_, x, y);
  if (upwards) cairo_rotate(cr_, -M_PI / 2);
  cairo_move_to(cr_, dx, dy);
  cairo_show_text(cr_, s.c_str());
  cairo_restore(cr_);
  drawn_.push_back(s);
}

}  // namespace sp::plot

#if defined(__has_feature)
#if __has_feature(address_sanitizer)  // clang's spelling of GCC's __SANITIZE_ADDRESS__
#define SP_PLOT_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(SP_PLOT_ASAN)
// fontconfig (loaded by cairo's text API) keeps its parsed configuration and cached font patterns for the life
// of the process without freeing them at exit, which LeakSanitizer reports from every program that draws
// text. Those allocations are the library's, made once; anything with fontconfig on its allocation stack is
// left out of the leak report. Every executable links sp_core whole, so this reaches the tools that the
// sanitizer CI run starts too.
extern "C" const char* __lsan_default_suppressions() { return "leak:libfontconfig.so\n"; }
#endif
