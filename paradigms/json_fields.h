// Strict reading of JSON configuration files. A Fields object reads one JSON object: every value is fetched
// by key with its expected type and range, and finish() reports every key that was never asked for (a typo,
// with the closest known key as a suggestion). Problems do not throw one at a time: they are collected in an
// Errors list, each naming its full key path ("recipe.optimizer.momentum: expected a number, got string"),
// so a user sees all of them after one run. parse_json_file adds duplicate-key and syntax errors with line
// and column. Tested in tests/test_config.cpp.
#pragma once
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

namespace sp::cfg {

class Errors {
 public:
  void add(const std::string& path, const std::string& message) { list_.push_back(path + ": " + message); }
  bool empty() const { return list_.empty(); }
  const std::vector<std::string>& list() const { return list_; }
  // Throws sp::Error "<source>: N problem(s):\n  <each>" when any problem was recorded.
  void throw_if_any(const std::string& source) const;

 private:
  std::vector<std::string> list_;
};

// Parses text (comments allowed); a syntax error or a duplicate key is added to `errors` (with line and
// column) and the result is then null.
nlohmann::json parse_json(const std::string& text, Errors& errors);
// Reads and parses a file; an unreadable file throws sp::Error naming it.
nlohmann::json parse_json_file(const std::string& path, Errors& errors);
// A file the tools wrote (a per-shadow record): strict JSON that must be one object; throws sp::Error naming
// the file when it is unreadable, malformed or not an object.
nlohmann::json read_json_object(const std::string& path);

class Fields {
 public:
  // j: the object at `path` ("" for the root). A value that is not an object is an error and reads as {}.
  Fields(const nlohmann::json& j, std::string path, Errors& errors);

  bool has(const std::string& key) const;
  std::string path(const std::string& key) const;  // full key path, e.g. "recipe.epochs"
  void error(const std::string& key, const std::string& message) { errors_.add(path(key), message); }

  // Typed values: `def` when the key is absent; a wrong type or a value outside [lo, hi] is an error (and
  // gives def). Integers must be JSON integers (2.0 is not one); numbers accept both.
  int64_t integer(const std::string& key, int64_t def, int64_t lo = std::numeric_limits<int64_t>::min(),
                  int64_t hi = std::numeric_limits<int64_t>::max());
  double number(const std::string& key, double def, double lo = -std::numeric_limits<double>::infinity(),
                double hi = std::numeric_limits<double>::infinity());
  bool boolean(const std::string& key, bool def);
  // choices: the allowed values (empty: any string).
  std::string string(const std::string& key, const std::string& def, const std::vector<std::string>& choices = {});
  std::vector<int64_t> integers(const std::string& key, const std::vector<int64_t>& def,
                                int64_t lo = std::numeric_limits<int64_t>::min());
  // A nested object (absent: an empty one, so its defaults apply).
  Fields object(const std::string& key);
  // The value of `key` as written (nullptr when absent), marked as known: for a section validated elsewhere
  // (a nested configuration parsed as a whole).
  const nlohmann::json* raw(const std::string& key) { return find(key); }

  // Marks `key` as required: absent is an error.
  void require(const std::string& key);
  // Keys that make no sense here (e.g. momentum for Adam): present is an error saying `why`.
  void reject(const std::vector<std::string>& keys, const std::string& why);
  // Every key present but never read or rejected is an error ("unknown key", with a suggestion).
  void finish();

 private:
  const nlohmann::json* find(const std::string& key);  // marks the key as known; nullptr when absent
  void wrong_type(const std::string& key, const char* expected, const nlohmann::json& v);

  nlohmann::json j_;
  std::string path_;
  Errors& errors_;
  std::set<std::string> known_;
};

}  // namespace sp::cfg
