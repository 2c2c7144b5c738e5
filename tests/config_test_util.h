// Helpers for the configuration tests (tests/test_config.cpp, tests/test_coreset_config.cpp): the error
// message of parsing a configuration text, and a check that a message mentions something.
#pragma once
#include <gtest/gtest.h>

#include <string>

#include "paradigms/config.h"

namespace sp::test {

// The error message of parsing `text` as "test.json" ("" when it parses).
inline std::string config_problems(const std::string& text) {
  try {
    parse_config_text(text, "test.json");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

inline void expect_has(const std::string& msg, const std::string& needle) {
  EXPECT_NE(msg.find(needle), std::string::npos) << "expected '" << needle << "' in:\n" << msg;
}

}  // namespace sp::test
