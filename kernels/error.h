// Error reporting for the whole project: sp::Error (an exception whose message names the op or file, the
// shapes involved and the source location) and the SP_CHECK macro that builds it. Tested by every
// bad-input test (tests/test_tensor.cpp, tests/test_checkpoint.cpp, ...).
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace sp {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
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
