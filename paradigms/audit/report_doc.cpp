// Markdown and HTML rendering of report blocks (see report_doc.h).
#include "paradigms/audit/report_doc.h"

#include "data/markup_escape.h"

#include "kernels/error.h"

namespace sp::audit {

std::string html_escape(const std::string& s) { return data::escape_markup(s); }

std::string markdown_cell(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '|')
      o += "\\|";
    else if (c == '\n')
      o += ' ';
    else
      o += c;
  }
  return o;
}

void ReportDoc::heading(const std::string& text, int level) {
  SP_CHECK(level >= 1 && level <= 4, "report heading level ", level);
  blocks_.push_back({Kind::heading, level, text, "", "", {}, {}});
}
void ReportDoc::paragraph(const std::string& text) { blocks_.push_back({Kind::paragraph, 0, text, "", "", {}, {}}); }
void ReportDoc::table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows) {
  for (const auto& r : rows)
    SP_CHECK(r.size() == header.size(), "report table: a row has ", r.size(), " cells for ", header.size(), " columns");
  blocks_.push_back({Kind::table, 0, "", "", "", header, rows});
}
void ReportDoc::image(const std::string& path, const std::string& caption, const std::string& html_path) {
  blocks_.push_back({Kind::image, 0, path, caption, html_path, {}, {}});
}
void ReportDoc::code(const std::string& text, const std::string& language) {
  blocks_.push_back({Kind::code, 0, text, language, "", {}, {}});
}

std::string ReportDoc::markdown() const {
  std::string o = "# " + title_ + "\n\n";
  for (const Block& b : blocks_) {
    switch (b.kind) {
      case Kind::heading: o += std::string(size_t(b.level), '#') + " " + b.text + "\n\n"; break;
      case Kind::paragraph: o += b.text + "\n\n"; break;
      case Kind::table: {
        auto row = [&](const std::vector<std::string>& cells) {
          std::string r = "|";
          for (const std::string& c : cells) r += " " + markdown_cell(c) + " |";
          return r + "\n";
        };
        o += row(b.header);
        o += "|";
        for (size_t i = 0; i < b.header.size(); ++i) o += i == 0 ? " --- |" : " ---: |";
        o += "\n";
        for (const auto& r : b.rows) o += row(r);
        o += "\n";
        break;
      }
      case Kind::image: o += "![" + b.extra + "](" + b.text + ")\n\n*" + b.extra + "*\n\n"; break;
      case Kind::code: o += "```" + b.extra + "\n" + b.text + (b.text.ends_with('\n') ? "" : "\n") + "```\n\n"; break;
    }
  }
  return o;
}

std::string ReportDoc::html() const {
  std::string o =
      "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>" + html_escape(title_) +
      "</title>\n<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}"
      "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #bbb;padding:4px 10px}"
      "td:not(:first-child){text-align:right}th{background:#eee}pre{background:#f6f6f6;padding:1em;overflow:auto}"
      "figure{margin:1em 0}img{max-width:100%;image-rendering:pixelated}figcaption{color:#555}</style>\n"
      "</head><body>\n<h1>" +
      html_escape(title_) + "</h1>\n";
  for (const Block& b : blocks_) {
    switch (b.kind) {
      case Kind::heading: {
        std::string t = "h" + std::to_string(b.level);
        o += "<" + t + ">" + html_escape(b.text) + "</" + t + ">\n";
        break;
      }
      case Kind::paragraph: o += "<p>" + html_escape(b.text) + "</p>\n"; break;
      case Kind::table:
        o += "<table>\n<tr>";
        for (const std::string& c : b.header) o += "<th>" + html_escape(c) + "</th>";
        o += "</tr>\n";
        for (const auto& r : b.rows) {
          o += "<tr>";
          for (const std::string& c : r) o += "<td>" + html_escape(c) + "</td>";
          o += "</tr>\n";
        }
        o += "</table>\n";
        break;
      case Kind::image:
        o += "<figure><img src=\"" + html_escape(b.html_src.empty() ? b.text : b.html_src) + "\" alt=\"" + html_escape(b.extra) + "\"><figcaption>" +
             html_escape(b.extra) + "</figcaption></figure>\n";
        break;
      case Kind::code: o += "<pre><code>" + html_escape(b.text) + "</code></pre>\n"; break;
    }
  }
  return o + "</body></html>\n";
}

}  // namespace sp::audit
