// Bounded JSON parsing (see json_read.h). The depth check runs in nlohmann's parser callback, which sees
// each object and array as it opens, so a too-deep document is abandoned at the first level past the limit.
#include "data/json_read.h"

#include "data/file_util.h"
#include "kernels/error.h"

namespace sp::data {
namespace {

struct TooDeep {
  size_t depth;
};

}  // namespace

std::string json_text_position(std::string_view text, size_t at) {
  size_t line = 1, col = 1;
  for (size_t i = 0; i < at && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
  }
  return "line " + std::to_string(line) + ", column " + std::to_string(col);
}

std::string json_error_text(const nlohmann::json::exception& e) {
  std::string msg = e.what();
  if (msg.rfind("[json.exception.", 0) == 0) {
    const size_t end = msg.find("] ");
    if (end != std::string::npos) msg = msg.substr(end + 2);
  }
  // Parse errors repeat their position as "parse error at line L, column C: "; callers give their own.
  const size_t syntax = msg.find("syntax error");
  return syntax == std::string::npos ? msg : msg.substr(syntax);
}

namespace {

template <class Json>
Json parse(std::string_view text, const std::string& source, const JsonReadOptions& o) {
  SP_CHECK(o.max_depth > 0, source, ": JSON depth limit must be positive");
  std::string last_key;  // the most recent key, to name the field of a number that does not fit a double
  auto cb = [&](int depth, typename Json::parse_event_t ev, Json& parsed) {
    using E = typename Json::parse_event_t;
    if ((ev == E::object_start || ev == E::array_start) && depth >= o.max_depth) throw TooDeep{size_t(depth) + 1};
    if (ev == E::key && parsed.is_string()) last_key = parsed.template get<std::string>();
    return true;
  };
  try {
    return Json::parse(text, cb, /*allow_exceptions=*/true, o.ignore_comments);
  } catch (const TooDeep& d) {
    SP_FAIL(source, ": JSON nested deeper than ", o.max_depth, " levels (", d.depth,
            " reached); no file the tools read needs that many");
  } catch (const nlohmann::json::parse_error& e) {
    SP_FAIL(source, ": invalid JSON at ", json_text_position(text, e.byte > 0 ? e.byte - 1 : 0), " (",
            json_error_text(e), ")");
  } catch (const nlohmann::json::out_of_range& e) {
    // 406: a number literal beyond the double range.
    SP_FAIL(source, ": ", last_key.empty() ? std::string("a number") : "the value after key '" + last_key + "'",
            " is out of range (", json_error_text(e), ")");
  } catch (const nlohmann::json::exception& e) {
    SP_FAIL(source, ": invalid JSON (", json_error_text(e), ")");
  }
}

template <class Json>
Json parse_or_discarded(std::string_view text, const JsonReadOptions& o) {
  try {
    return parse<Json>(text, "json", o);
  } catch (const Error&) {
    return Json(Json::value_t::discarded);
  }
}

}  // namespace

nlohmann::json parse_json_text(std::string_view text, const std::string& source, const JsonReadOptions& o) {
  return parse<nlohmann::json>(text, source, o);
}

nlohmann::ordered_json parse_ordered_json_text(std::string_view text, const std::string& source,
                                               const JsonReadOptions& o) {
  return parse<nlohmann::ordered_json>(text, source, o);
}

nlohmann::json read_json_file(const std::string& path, const JsonReadOptions& o) {
  const std::vector<uint8_t> bytes = read_file_bytes(path);
  return parse_json_text(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()), path, o);
}

nlohmann::json parse_json_or_discarded(std::string_view text, const JsonReadOptions& o) {
  return parse_or_discarded<nlohmann::json>(text, o);
}

nlohmann::ordered_json parse_ordered_json_or_discarded(std::string_view text, const JsonReadOptions& o) {
  return parse_or_discarded<nlohmann::ordered_json>(text, o);
}

}  // namespace sp::data
