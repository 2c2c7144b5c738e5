// A tiny document model for the audit reports: headings, paragraphs, tables, images and code blocks,
// rendered to Markdown (report.md) and to a standalone HTML page (report.html) from the same blocks, so the
// two reports always say the same thing. Tested in tests/test_sp_audit_report.cpp (escaping, table shape,
// both renderings hold every cell).
#pragma once
#include <string>
#include <vector>

namespace sp::audit {

class ReportDoc {
 public:
  explicit ReportDoc(std::string title) : title_(std::move(title)) {}
  void heading(const std::string& text, int level = 2);
  void paragraph(const std::string& text);  // plain text (escaped in both renderings)
  void table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows);
  // Paths relative to the report; the HTML shows html_path instead of path when given (an SVG of a PNG plot).
  void image(const std::string& path, const std::string& caption, const std::string& html_path = "");
  void code(const std::string& text, const std::string& language = "");

  std::string markdown() const;
  std::string html() const;

 private:
  enum class Kind { heading, paragraph, table, image, code };
  struct Block {
    Kind kind;
    int level = 0;
    std::string text, extra;  // heading/paragraph/code text; image path + caption; code language
    std::string html_src;     // image shown by the HTML rendering when not empty
    std::vector<std::string> header;
    std::vector<std::vector<std::string>> rows;
  };
  std::string title_;
  std::vector<Block> blocks_;
};

std::string html_escape(const std::string& s);
std::string markdown_cell(const std::string& s);  // '|' and newlines escaped for a table cell

}  // namespace sp::audit
