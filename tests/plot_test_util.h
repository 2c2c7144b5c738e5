// Helpers for the plot tests: a PNG decoded with stb_image, "is this colour drawn near that pixel", an
// XML well-formedness check of an SVG (balanced tags, one root), the white border that shows no text was cut
// off at the image's edge, and the skip of a build without plots.
#pragma once
#include <gtest/gtest.h>
#include <stb/stb_image.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "plot/figure.h"
#include "plot/write_figure.h"

namespace sp::test {

#define SP_REQUIRE_PLOTS()                                                                      \
  do {                                                                                          \
    if (!::sp::plot::plots_available()) GTEST_SKIP() << "built with -DSP_CAIRO=OFF: no plots"; \
  } while (0)

struct Image {
  int width = 0, height = 0;
  std::vector<uint8_t> rgb;
  const uint8_t* at(int x, int y) const { return &rgb[(size_t(y) * size_t(width) + size_t(x)) * 3]; }
};

inline Image decode_png(const std::string& bytes) {
  Image im;
  int n = 0;
  unsigned char* p = stbi_load_from_memory(reinterpret_cast<const unsigned char*>(bytes.data()), int(bytes.size()),
                                           &im.width, &im.height, &n, 3);
  if (!p) return im;
  im.rgb.assign(p, p + size_t(im.width) * size_t(im.height) * 3);
  stbi_image_free(p);
  return im;
}

inline bool close_to(const uint8_t* px, plot::Color c, int tol) {
  return std::abs(px[0] - int(std::lround(255 * c.r))) <= tol && std::abs(px[1] - int(std::lround(255 * c.g))) <= tol &&
         std::abs(px[2] - int(std::lround(255 * c.b))) <= tol;
}

// Whether a pixel within `radius` of (x, y) has colour c (antialiasing blurs a line's edge pixels).
inline bool drawn_near(const Image& im, double x, double y, plot::Color c, int radius = 2, int tol = 40) {
  const int cx = int(std::lround(x)), cy = int(std::lround(y));
  for (int dy = -radius; dy <= radius; ++dy)
    for (int dx = -radius; dx <= radius; ++dx) {
      const int px = cx + dx, py = cy + dy;
      if (px >= 0 && py >= 0 && px < im.width && py < im.height && close_to(im.at(px, py), c, tol)) return true;
    }
  return false;
}

// Nothing but white in the outermost `margin` pixels: no text or line runs off the image.
inline bool white_border(const Image& im, int margin = 3) {
  for (int y = 0; y < im.height; ++y)
    for (int x = 0; x < im.width; ++x) {
      if (x >= margin && y >= margin && x < im.width - margin && y < im.height - margin) continue;
      const uint8_t* p = im.at(x, y);
      if (p[0] != 255 || p[1] != 255 || p[2] != 255) return false;
    }
  return true;
}

// "" when the SVG's tags balance under a single <svg> root (declarations, comments and CDATA skipped), else
// what is wrong.
inline std::string svg_structure_error(const std::string& s) {
  std::vector<std::string> open;
  int roots = 0;
  size_t i = 0;
  while ((i = s.find('<', i)) != std::string::npos) {
    if (s.compare(i, 4, "<!--") == 0) {
      i = s.find("-->", i);
      if (i == std::string::npos) return "unterminated comment";
      continue;
    }
    if (s.compare(i, 9, "<![CDATA[") == 0) {
      i = s.find("]]>", i);
      if (i == std::string::npos) return "unterminated CDATA";
      continue;
    }
    const size_t end = s.find('>', i);
    if (end == std::string::npos) return "unterminated tag at " + std::to_string(i);
    const std::string tag = s.substr(i + 1, end - i - 1);
    i = end + 1;
    if (tag.empty() || tag[0] == '?' || tag[0] == '!') continue;
    if (tag[0] == '/') {
      const std::string name = tag.substr(1, tag.find_first_of(" \t\n") - 1);
      if (open.empty() || open.back() != name) return "</" + name + "> closes " + (open.empty() ? "nothing" : open.back());
      open.pop_back();
      continue;
    }
    const std::string name = tag.substr(0, tag.find_first_of(" \t\n/"));
    if (open.empty()) {
      ++roots;
      if (name != "svg") return "root element <" + name + ">";
    }
    if (tag.back() != '/') open.push_back(name);
  }
  if (!open.empty()) return "<" + open.back() + "> never closed";
  return roots == 1 ? "" : std::to_string(roots) + " root elements";
}

// The text of the SVG's <desc> (every string the figure drew, one per line).
inline std::string svg_desc(const std::string& svg) {
  const size_t a = svg.find("<desc>"), b = svg.find("</desc>");
  return a == std::string::npos || b == std::string::npos ? "" : svg.substr(a + 6, b - a - 6);
}

}  // namespace sp::test
