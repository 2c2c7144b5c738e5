// A 5x7 bitmap font (printable ASCII letters, digits and common punctuation) for the ROC plot's labels,
// so plots need no font library. Tested in tests/test_lira_plot.cpp (every glyph well formed, the
// required characters present).
#pragma once
#include <array>
#include <cstdint>

namespace sp::lira {

inline constexpr int kGlyphW = 5, kGlyphH = 7;

// Rows of the glyph for c, top to bottom; bit 4 is the leftmost column. Characters without a glyph
// get the '?' glyph; `found` (optional) says whether c had its own.
const std::array<uint8_t, kGlyphH>& glyph(char c, bool* found = nullptr);

}  // namespace sp::lira
