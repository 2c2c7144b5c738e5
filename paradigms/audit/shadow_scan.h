// The state of every shadow model of an experiment directory, read from its files only, so `sp_audit
// --status` works while other processes (local workers, SLURM tasks) train:
//   done     DIR/shadow/<k>/metrics.json exists (written last by train_shadow)
//   running  another process holds DIR/shadow/<k>/.lock (paradigms/engine/shadow_train.h)
//   failed   DIR/shadow/<k>/failed.json exists: sp_audit recorded the error of its last attempt
//   missing  none of these (never started, or killed: a checkpoint lets the next attempt resume)
// Tested in tests/test_sp_audit.cpp.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace sp::audit {

enum class ShadowState { done, running, failed, missing };
const char* state_name(ShadowState s);

struct ShadowEntry {
  int k = 0;
  ShadowState state = ShadowState::missing;
  nlohmann::json metrics;     // metrics.json (done)
  std::string error;          // failed.json's message (failed)
  std::string holder;         // who holds the lock (running): "pid 123", "pid 123 on node7", "another process"
  bool has_checkpoint = false;  // an interrupted or running shadow resumes from it
};

std::vector<ShadowEntry> scan_shadows(const std::string& dir, int num_shadows);

std::string shadow_dir(const std::string& dir, int k);
std::string shadow_lock_path(const std::string& dir, int k);
// Who holds shadow k's lock, as it wrote itself into the lock file ("another process" when unknown).
std::string shadow_lock_holder(const std::string& dir, int k);

// failed.json for shadow k: the error (and exit status for a worker process), written atomically.
void mark_failed(const std::string& dir, int k, const std::string& message, int exit_status = -1);
void clear_failed(const std::string& dir, int k);

std::vector<int> shadows_in_state(const std::vector<ShadowEntry>& v, ShadowState s);
// "0-3, 5, 7-9"
std::string format_index_list(const std::vector<int>& v);

}  // namespace sp::audit
