// Error reporting for the whole project: sp::Error (an exception whose message names the op or file, the
// shapes involved and the source location) and the SP_CHECK macro that builds it. Messages often quote
// what a file held (a corrupt header, a folder name), so every message is made printable on construction:
// it can always be shown on a terminal and stored in a JSON document. Tested by every bad-input test
// (tests/test_tensor.cpp, tests/test_checkpoint.cpp, ...) and tests/test_error_text.cpp.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>

namespace sp {

// `text` with every byte that is not part of valid, printable UTF-8 written as \xNN: invalid or truncated
// sequences, overlong forms, surrogates, and control characters other than newline and tab (C0, DEL, C1).
// Valid text comes back unchanged.
std::string printable_text(std::string_view text);

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(printable_text(what)) {}
  explicit Error(const char* what) : Error(std::string(what)) {}
};

namespace detail {
template <class... Args>
[[noreturn]] void fail(const char* file, int line, const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  os << " [" << file << ":" << line << "]";
  throw Error(os.str());
}
}  // namespace detail

}  // namespace sp

// SP_CHECK(cond, "conv2d: input ", x.shape(), " ...") throws sp::Error with the streamed message.
#define SP_CHECK(cond, ...)                                          \
  do {                                                               \
    if (!(cond)) ::sp::detail::fail(__FILE__, __LINE__, __VA_ARGS__); \
  } while (0)
#define SP_FAIL(...) ::sp::detail::fail(__FILE__, __LINE__, __VA_ARGS__)
