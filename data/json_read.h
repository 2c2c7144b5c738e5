// Parsing JSON that came from a file: configurations, metrics and records, checkpoint metadata, safetensors
// headers. Any such file may be corrupt or hostile, so parsing is bounded: nesting deeper than a limit (far
// beyond any document the tools write) is refused before a deep tree exists (copying or printing one
// recurses and would overflow the stack), and every failure, including numbers beyond the double range
// (1e999), becomes an sp::Error naming the source and where in it. Tested in tests/test_json_read.cpp.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace sp::data {

inline constexpr int kMaxJsonDepth = 64;

struct JsonReadOptions {
  int max_depth = kMaxJsonDepth;
  bool ignore_comments = false;
};

// "line L, column C" (from 1) of byte offset `at` in text, for messages.
std::string json_text_position(std::string_view text, size_t at);
// What a JSON library error says, without its "[json.exception.parse_error.101] " tag (which names the library's
// exception, nothing the reader of a message can act on), e.g. "syntax error while parsing value - ...".
std::string json_error_text(const nlohmann::json::exception& e);

// Throws sp::Error "<source>: ..." on any problem.
nlohmann::json parse_json_text(std::string_view text, const std::string& source, const JsonReadOptions& o = {});
nlohmann::ordered_json parse_ordered_json_text(std::string_view text, const std::string& source,
                                               const JsonReadOptions& o = {});
// Reads a regular file (see file_util.h) and parses it.
nlohmann::json read_json_file(const std::string& path, const JsonReadOptions& o = {});

// For readers that treat a corrupt file as absent (a shadow whose metrics are unreadable is not done): the
// parsed value, or a discarded value (is_discarded()) on any of the problems above.
nlohmann::json parse_json_or_discarded(std::string_view text, const JsonReadOptions& o = {});
nlohmann::ordered_json parse_ordered_json_or_discarded(std::string_view text, const JsonReadOptions& o = {});

}  // namespace sp::data
