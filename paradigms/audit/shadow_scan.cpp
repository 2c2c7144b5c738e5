// Reading the state of shadow models from the experiment directory (see shadow_scan.h).
#include "paradigms/audit/shadow_scan.h"

#include <filesystem>

#include "data/atomic_file.h"
#include "data/file_util.h"
#include "data/json_read.h"
#include "kernels/error.h"
#include "paradigms/engine/shadow_metrics.h"
#include "paradigms/engine/shadow_train.h"

namespace fs = std::filesystem;

namespace sp::audit {

namespace {
nlohmann::json read_json_file(const std::string& path) {
  std::vector<uint8_t> b = data::read_file_bytes(path);
  nlohmann::json j = data::parse_json_or_discarded(std::string_view(reinterpret_cast<const char*>(b.data()), b.size()));
  SP_CHECK(!j.is_discarded() && j.is_object(), path, ": not a JSON object (corrupt file?)");
  return j;
}
}  // namespace

std::string shadow_dir(const std::string& dir, int k) { return dir + "/shadow/" + std::to_string(k); }

std::string shadow_lock_path(const std::string& dir, int k) { return shadow_dir(dir, k) + "/" + kShadowLockName; }

std::string shadow_lock_holder(const std::string& dir, int k) {
  return data::FileLock::holder(shadow_lock_path(dir, k)).str();
}

const char* state_name(ShadowState s) {
  switch (s) {
    case ShadowState::done: return "done";
    case ShadowState::running: return "running";
    case ShadowState::failed: return "failed";
    case ShadowState::missing: return "missing";
  }
  return "?";
}

std::vector<ShadowEntry> scan_shadows(const std::string& dir, int num_shadows) {
  std::vector<ShadowEntry> v;
  for (int k = 0; k < num_shadows; ++k) {
    ShadowEntry e;
    e.k = k;
    const std::string d = shadow_dir(dir, k);
    e.has_checkpoint = fs::exists(d + "/checkpoint.safetensors");
    std::string problem;
    if (fs::exists(d + "/metrics.json")) {
      e.metrics = read_shadow_metrics(d + "/metrics.json", problem);
      if (problem.empty()) {
        e.state = ShadowState::done;
      } else {
        // Not done: sp_train moves the record aside and trains the shadow again.
        e.metrics = nlohmann::json();
        e.error = d + "/metrics.json is invalid (" + problem + ")";
      }
    }
    if (e.state != ShadowState::done && data::FileLock::is_held(shadow_lock_path(dir, k))) {
      e.state = ShadowState::running;
      e.holder = shadow_lock_holder(dir, k);
    } else if (e.state != ShadowState::done && fs::exists(d + "/failed.json")) {
      e.state = ShadowState::failed;
      try {
        const nlohmann::json f = read_json_file(d + "/failed.json");
        e.error = f.contains("error") && f["error"].is_string() ? f["error"].get<std::string>() : "(no message)";
      } catch (const Error& x) {
        e.error = std::string("(the failure record is unreadable: ") + x.what() + ")";
      }
    }
    v.push_back(std::move(e));
  }
  return v;
}

void mark_failed(const std::string& dir, int k, const std::string& message, int exit_status) {
  nlohmann::json j = {{"shadow", k}, {"error", message}};
  if (exit_status >= 0) j["exit_status"] = exit_status;
  const std::string d = shadow_dir(dir, k);
  fs::create_directories(d);
  write_file_atomic(d + "/failed.json", j.dump(2) + "\n");
}

void clear_failed(const std::string& dir, int k) {
  std::error_code ec;
  fs::remove(shadow_dir(dir, k) + "/failed.json", ec);
}

std::vector<int> shadows_in_state(const std::vector<ShadowEntry>& v, ShadowState s) {
  std::vector<int> r;
  for (const ShadowEntry& e : v)
    if (e.state == s) r.push_back(e.k);
  return r;
}

std::string format_index_list(const std::vector<int>& v) {
  std::string out;
  for (size_t i = 0; i < v.size();) {
    size_t j = i;
    while (j + 1 < v.size() && v[j + 1] == v[j] + 1) ++j;
    if (!out.empty()) out += ", ";
    out += std::to_string(v[i]);
    if (j > i) out += "-" + std::to_string(v[j]);
    i = j + 1;
  }
  return out.empty() ? "none" : out;
}

}  // namespace sp::audit
