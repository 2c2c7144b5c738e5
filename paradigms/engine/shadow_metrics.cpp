// The finished-shadow record check (see shadow_metrics.h).
#include "paradigms/engine/shadow_metrics.h"

#include <cmath>
#include <filesystem>

#include "data/file_util.h"
#include "data/json_read.h"
#include "kernels/error.h"

namespace sp {
namespace {

bool finite_number(const nlohmann::json& j) { return j.is_number() && std::isfinite(j.get<double>()); }

}  // namespace

std::string shadow_metrics_problem(const nlohmann::json& m) {
  if (m.is_discarded()) return "not valid JSON";
  if (!m.is_object()) return "not a JSON object";
  if (!m.contains("shadow") || !m["shadow"].is_number_integer()) return "shadow is missing or not an integer";
  if (!m.contains("test_accuracy") || !finite_number(m["test_accuracy"])) return "test_accuracy is missing or not a finite number";
  const double acc = m["test_accuracy"].get<double>();
  if (acc < 0 || acc > 1) return "test_accuracy " + std::to_string(acc) + " is outside [0, 1]";
  if (!m.contains("seconds") || !m["seconds"].is_object()) return "seconds is missing or not an object";
  const nlohmann::json& s = m["seconds"];
  if (!s.contains("train") || !finite_number(s["train"]) || s["train"].get<double>() < 0)
    return "seconds.train is missing or not a finite number >= 0";
  for (auto it = s.begin(); it != s.end(); ++it)
    if (!finite_number(it.value())) return "seconds." + it.key() + " is not a finite number";
  return "";
}

nlohmann::json read_shadow_metrics(const std::string& path, std::string& problem) {
  nlohmann::json m;
  try {
    const std::vector<uint8_t> b = data::read_file_bytes(path);
    m = data::parse_json_or_discarded(std::string_view(reinterpret_cast<const char*>(b.data()), b.size()));
  } catch (const Error& e) {
    problem = e.what();
    return nlohmann::json(nlohmann::json::value_t::discarded);
  }
  problem = shadow_metrics_problem(m);
  return m;
}

bool shadow_finished(const std::string& shadow_dir) {
  const std::string path = shadow_dir + "/metrics.json";
  if (!std::filesystem::exists(path)) return false;
  std::string problem;
  read_shadow_metrics(path, problem);
  return problem.empty();
}

}  // namespace sp
