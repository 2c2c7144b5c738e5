// Helpers of the end-to-end tests that run the built tools on a tiny experiment: the tools' paths, a JSON
// file's content, a substring expectation with the text shown on failure, and a config written into a
// temporary folder.
#pragma once
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "tests/lira_test_util.h"

namespace sp::test {

inline std::string tool_path(const std::string& name) { return std::string(SP_BINARY_DIR) + "/bin/" + name; }

inline nlohmann::json read_json(const std::string& path) { return nlohmann::json::parse(read_text(path)); }

inline void expect_contains(const std::string& text, const std::string& needle) {
  EXPECT_NE(text.find(needle), std::string::npos) << "expected '" << needle << "' in:\n" << text;
}

inline std::string write_config(const TempDir& t, const std::string& name, const nlohmann::json& j) {
  write_text(t / name, j.dump(2));
  return t / name;
}

}  // namespace sp::test
