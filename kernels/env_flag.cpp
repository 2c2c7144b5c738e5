// Environment switches (see env_flag.h).
#include "kernels/env_flag.h"

#include <cctype>
#include <cstdlib>
#include <string>

#include "kernels/error.h"

namespace sp {

std::optional<bool> parse_switch(std::string_view text) {
  std::string t;
  for (char c : text) t += char(std::tolower(static_cast<unsigned char>(c)));
  if (t == "1" || t == "on" || t == "true" || t == "yes") return true;
  if (t == "0" || t == "off" || t == "false" || t == "no") return false;
  return std::nullopt;
}

bool env_switch(const char* name, bool fallback) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  std::optional<bool> on = parse_switch(v);
  SP_CHECK(on.has_value(), "environment variable ", name, "='", v,
           "' is not a switch: use 1/on/true/yes or 0/off/false/no");
  return *on;
}

bool cuda_debug_sync() {
  static const bool on = env_switch("SP_CUDA_DEBUG_SYNC", false);
  return on;
}

}  // namespace sp
