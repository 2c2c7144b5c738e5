// Escaping text for HTML and XML (SVG) documents: the report pages and the plots' titles. One function for
// both, since the characters that matter (& < > ") are the same. Tested through tests/test_sp_audit_report.cpp
// and tests/test_plot.cpp.
#pragma once
#include <string>
#include <string_view>

namespace sp::data {

inline std::string escape_markup(std::string_view s) {
  std::string o;
  o.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': o += "&amp;"; break;
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '"': o += "&quot;"; break;
      default: o += c;
    }
  }
  return o;
}

}  // namespace sp::data
