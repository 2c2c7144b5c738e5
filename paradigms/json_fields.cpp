// Strict JSON configuration reading (see json_fields.h). Tested in tests/test_config.cpp.
#include "paradigms/json_fields.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "data/file_util.h"
#include "data/json_read.h"
#include "kernels/error.h"

namespace sp::cfg {

namespace {

using json = nlohmann::json;

std::string show(const json& v) {
  std::string s = v.dump();
  if (s.size() > 40) s = s.substr(0, 37) + "...";
  return std::string(v.type_name()) + " " + s;
}

std::string position(const std::string& text, size_t pos) { return data::json_text_position(text, pos); }

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

}  // namespace

void Errors::throw_if_any(const std::string& source) const {
  if (list_.empty()) return;
  std::ostringstream os;
  os << source << ": " << list_.size() << (list_.size() == 1 ? " problem" : " problems") << ":";
  for (const auto& e : list_) os << "\n  " << e;
  throw Error(os.str());
}

json parse_json(const std::string& text, Errors& errors) {
  // The parser callback sees every key; a stack of the keys seen per open object finds duplicates (which
  // nlohmann would silently resolve to the last one).
  struct Frame {
    bool array = false;
    std::set<std::string> keys;
    std::string last;
  };
  std::vector<Frame> stack;
  auto where = [&] {
    std::string p;
    for (size_t i = 0; i + 1 < stack.size(); ++i)
      p += stack[i].array ? "[]" : (p.empty() ? "" : ".") + stack[i].last;
    return p;
  };
  struct TooDeep {};
  auto cb = [&](int depth, json::parse_event_t ev, json& parsed) {
    // A configuration is a few levels deep; a deeper tree is refused before it exists (copying or printing
    // it would recurse past the stack).
    if ((ev == json::parse_event_t::object_start || ev == json::parse_event_t::array_start) &&
        depth >= data::kMaxJsonDepth)
      throw TooDeep{};
    switch (ev) {
      case json::parse_event_t::object_start: stack.push_back({false, {}, {}}); break;
      case json::parse_event_t::array_start: stack.push_back({true, {}, {}}); break;
      case json::parse_event_t::object_end:
      case json::parse_event_t::array_end:
        if (!stack.empty()) stack.pop_back();
        break;
      case json::parse_event_t::key: {
        Frame& f = stack.back();
        f.last = parsed.get<std::string>();
        if (!f.keys.insert(f.last).second) {
          std::string p = where();
          errors.add((p.empty() ? "" : p + ".") + f.last, "duplicate key");
        }
        break;
      }
      case json::parse_event_t::value: break;
    }
    return true;
  };
  // The key path of the value being read (for a number that does not fit a double).
  auto here = [&] {
    std::string p = where();
    if (!stack.empty() && !stack.back().array && !stack.back().last.empty())
      p += (p.empty() ? "" : ".") + stack.back().last;
    return p.empty() ? std::string("(top level)") : p;
  };
  try {
    return json::parse(text, cb, /*allow_exceptions=*/true, /*ignore_comments=*/true);
  } catch (const TooDeep&) {
    std::string p = here();
    if (p.size() > 60) p = p.substr(0, 60) + "...";  // 64 levels of "[]" say nothing more
    errors.add(p, "nested deeper than " + std::to_string(data::kMaxJsonDepth) + " levels");
    return json();
  } catch (const json::out_of_range& e) {
    errors.add(here(), "number out of range (" + data::json_error_text(e) + ")");
    return json();
  } catch (const json::parse_error& e) {
    errors.add(position(text, e.byte > 0 ? e.byte - 1 : 0), "invalid JSON (" + data::json_error_text(e) + ")");
    return json();
  }
}

json parse_json_file(const std::string& path, Errors& errors) {
  std::vector<uint8_t> bytes = data::read_file_bytes(path);
  return parse_json(std::string(bytes.begin(), bytes.end()), errors);
}

Fields::Fields(const json& j, std::string path, Errors& errors) : path_(std::move(path)), errors_(errors) {
  if (j.is_object()) {
    j_ = j;
  } else {
    j_ = json::object();
    if (!j.is_null() || path_.empty())
      errors_.add(path_.empty() ? "(top level)" : path_, "expected an object, got " + show(j));
  }
}

bool Fields::has(const std::string& key) const { return j_.contains(key); }

std::string Fields::path(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }

const json* Fields::find(const std::string& key) {
  known_.insert(key);
  auto it = j_.find(key);
  return it == j_.end() ? nullptr : &*it;
}

void Fields::wrong_type(const std::string& key, const char* expected, const json& v) {
  error(key, std::string("expected ") + expected + ", got " + show(v));
}

int64_t Fields::integer(const std::string& key, int64_t def, int64_t lo, int64_t hi) {
  const json* v = find(key);
  if (!v) return def;
  int64_t x = 0;
  if (v->is_number_unsigned()) {
    uint64_t u = v->get<uint64_t>();
    if (u > uint64_t(std::numeric_limits<int64_t>::max())) {
      error(key, "integer " + v->dump() + " is too large");
      return def;
    }
    x = int64_t(u);
  } else if (v->is_number_integer()) {
    x = v->get<int64_t>();
  } else {
    wrong_type(key, "an integer", *v);
    return def;
  }
  if (x < lo || x > hi) {
    std::string range = hi == std::numeric_limits<int64_t>::max() ? ">= " + std::to_string(lo)
                                                                  : "in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
    error(key, std::to_string(x) + " must be " + range);
    return def;
  }
  return x;
}

double Fields::number(const std::string& key, double def, double lo, double hi) {
  const json* v = find(key);
  if (!v) return def;
  if (!v->is_number()) {
    wrong_type(key, "a number", *v);
    return def;
  }
  double x = v->get<double>();
  if (!(x >= lo && x <= hi)) {
    std::ostringstream os;
    os << v->dump() << " must be ";
    if (std::isinf(hi))
      os << ">= " << lo;
    else if (std::isinf(lo))
      os << "<= " << hi;
    else
      os << "in [" << lo << ", " << hi << "]";
    error(key, os.str());
    return def;
  }
  return x;
}

bool Fields::boolean(const std::string& key, bool def) {
  const json* v = find(key);
  if (!v) return def;
  if (!v->is_boolean()) {
    wrong_type(key, "true or false", *v);
    return def;
  }
  return v->get<bool>();
}

std::string Fields::string(const std::string& key, const std::string& def, const std::vector<std::string>& choices) {
  const json* v = find(key);
  if (!v) return def;
  if (!v->is_string()) {
    wrong_type(key, "a string", *v);
    return def;
  }
  std::string s = v->get<std::string>();
  if (!choices.empty() && std::find(choices.begin(), choices.end(), s) == choices.end()) {
    std::string list;
    for (const auto& c : choices) list += (list.empty() ? "" : ", ") + c;
    error(key, "'" + s + "' is not one of " + list);
    return def;
  }
  return s;
}

std::vector<int64_t> Fields::integers(const std::string& key, const std::vector<int64_t>& def, int64_t lo) {
  const json* v = find(key);
  if (!v) return def;
  if (!v->is_array()) {
    wrong_type(key, "an array of integers", *v);
    return def;
  }
  std::vector<int64_t> out;
  for (size_t i = 0; i < v->size(); ++i) {
    const json& e = (*v)[i];
    std::string p = key + "[" + std::to_string(i) + "]";
    if (!e.is_number_integer()) {
      wrong_type(p, "an integer", e);
      return def;
    }
    if (e.get<int64_t>() < lo) {
      error(p, e.dump() + " must be >= " + std::to_string(lo));
      return def;
    }
    out.push_back(e.get<int64_t>());
  }
  return out;
}

Fields Fields::object(const std::string& key) {
  const json* v = find(key);
  return Fields(v ? *v : json(), path(key), errors_);
}

void Fields::require(const std::string& key) {
  known_.insert(key);
  if (!has(key)) error(key, "missing (required)");
}

void Fields::reject(const std::vector<std::string>& keys, const std::string& why) {
  for (const auto& k : keys) {
    known_.insert(k);
    if (has(k)) error(k, why);
  }
}

void Fields::finish() {
  for (auto it = j_.begin(); it != j_.end(); ++it) {
    const std::string& k = it.key();
    if (known_.count(k)) continue;
    std::string best;
    size_t best_d = 3;  // suggest only close matches
    for (const auto& c : known_) {
      size_t d = edit_distance(k, c);
      if (d < best_d) best_d = d, best = c;
    }
    std::string known;
    for (const auto& c : known_) known += (known.empty() ? "" : ", ") + c;
    error(k, "unknown key" + (best.empty() ? "" : " (did you mean '" + best + "'?)") + "; known here: " + known);
  }
}

nlohmann::json read_json_object(const std::string& path) {
  std::vector<uint8_t> bytes = data::read_file_bytes(path);
  nlohmann::json j = data::parse_json_or_discarded(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
  SP_CHECK(j.is_object(), path, ": not a JSON object");
  return j;
}

}  // namespace sp::cfg
