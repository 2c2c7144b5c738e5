// SVG and PNG bytes from cairo surfaces, and the atomic writes of both (see write_figure.h). Compiled when
// SP_CAIRO is ON; plot/no_cairo_output.cpp stands in for it otherwise.
#include <cairo-svg.h>
#include <cairo.h>

#include <exception>

#include "data/atomic_file.h"
#include "data/markup_escape.h"
#include "kernels/error.h"
#include "plot/cairo_draw.h"
#include "plot/write_figure.h"

namespace sp::plot {

namespace {

cairo_status_t append_bytes(void* closure, const unsigned char* data, unsigned int length) {
  try {
    static_cast<std::string*>(closure)->append(reinterpret_cast<const char*>(data), length);
    return CAIRO_STATUS_SUCCESS;
  } catch (const std::exception&) {
    return CAIRO_STATUS_WRITE_ERROR;
  }
}

void check(cairo_status_t s, const std::string& name, const char* step) {
  SP_CHECK(s == CAIRO_STATUS_SUCCESS, name, ": cairo failed to ", step, ": ", cairo_status_to_string(s));
}

// Draws on `surface` and checks the context and the surface; destroys both either way.
RenderInfo draw_on(cairo_surface_t* surface, const Figure& f, const std::string& name) {
  const cairo_status_t created = cairo_surface_status(surface);
  if (created != CAIRO_STATUS_SUCCESS) {
    cairo_surface_destroy(surface);
    check(created, name, "create the surface");
  }
  cairo_t* cr = cairo_create(surface);
  RenderInfo info;
  std::string error;
  try {
    info = draw_figure(cr, f);
  } catch (const std::exception& e) {
    error = e.what();
  }
  const cairo_status_t drawn = cairo_status(cr);
  cairo_destroy(cr);
  cairo_surface_flush(surface);
  if (!error.empty() || drawn != CAIRO_STATUS_SUCCESS) {
    cairo_surface_destroy(surface);
    SP_CHECK(error.empty(), name, ": ", error);
    check(drawn, name, "draw the plot");
  }
  return info;
}

std::string xml_escape(const std::string& s) { return data::escape_markup(s); }

// The words of the figure as <title> and <desc> right inside the root element, where SVG viewers and screen
// readers look for them (the drawn text itself is glyph outlines).
std::string with_text_elements(const std::string& svg, const Figure& f, const RenderInfo& info,
                               const std::string& name) {
  const size_t root = svg.find("<svg");
  const size_t open_end = root == std::string::npos ? root : svg.find('>', root);
  SP_CHECK(open_end != std::string::npos, name, ": cairo's SVG output has no <svg> element");
  std::string desc;
  for (const std::string& t : info.texts) desc += (desc.empty() ? "" : "\n") + xml_escape(t);
  return svg.substr(0, open_end + 1) + "\n<title>" + xml_escape(f.title) + "</title>\n<desc>" + desc + "</desc>" +
         svg.substr(open_end + 1);
}

}  // namespace

bool plots_available() { return true; }

std::string render_svg(const Figure& f, const std::string& name, RenderInfo* info) {
  validate(f, name);
  std::string bytes;
  cairo_surface_t* s = cairo_svg_surface_create_for_stream(append_bytes, &bytes, f.width, f.height);
  if (cairo_surface_status(s) == CAIRO_STATUS_SUCCESS) {
    cairo_svg_surface_restrict_to_version(s, CAIRO_SVG_VERSION_1_1);
    cairo_svg_surface_set_document_unit(s, CAIRO_SVG_UNIT_PX);  // one SVG unit per PNG pixel, not points
  }
  RenderInfo drawn = draw_on(s, f, name);
  cairo_surface_finish(s);  // the SVG stream is complete only once the surface is finished
  const cairo_status_t st = cairo_surface_status(s);
  cairo_surface_destroy(s);
  check(st, name, "write the SVG");
  bytes = with_text_elements(bytes, f, drawn, name);
  if (info) *info = std::move(drawn);
  return bytes;
}

std::string render_png(const Figure& f, const std::string& name, RenderInfo* info) {
  validate(f, name);
  cairo_surface_t* s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, f.width, f.height);
  RenderInfo drawn = draw_on(s, f, name);
  std::string bytes;
  const cairo_status_t st = cairo_surface_write_to_png_stream(s, append_bytes, &bytes);
  cairo_surface_destroy(s);
  check(st, name, "encode the PNG");
  if (info) *info = std::move(drawn);
  return bytes;
}

std::vector<std::string> write_figure(const Figure& f, const std::string& stem) {
  const std::string svg_path = stem + ".svg", png_path = stem + ".png";
  const std::string svg = render_svg(f, svg_path), png = render_png(f, png_path);
  write_file_atomic(svg_path, svg);
  write_file_atomic(png_path, png);
  return {png_path, svg_path};
}

}  // namespace sp::plot
