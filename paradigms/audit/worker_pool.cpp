// Concurrent shadow training in child processes (see worker_pool.h).
#include "paradigms/audit/worker_pool.h"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <list>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "data/file_util.h"
#include "kernels/error.h"
#include "paradigms/audit/shadow_scan.h"
#include "paradigms/audit/subprocess.h"
#include "paradigms/engine/progress.h"
#include "paradigms/engine/shadow_metrics.h"

namespace sp::audit {

namespace {

using Clock = std::chrono::steady_clock;

struct Running {
  size_t job = 0, slot = 0;
  Clock::time_point start;
};

std::string last_line(const std::string& path) { return tail_lines(path, 1); }

}  // namespace

void check_gpu_slots(const std::vector<int>& gpus, int per_gpu) {
  SP_CHECK(per_gpu >= 1, "--models-per-gpu must be at least 1 (got ", per_gpu, ")");
  for (size_t i = 0; i < gpus.size(); ++i)
    for (size_t j = 0; j < i; ++j) SP_CHECK(gpus[i] != gpus[j], "--gpus lists GPU ", gpus[i], " twice");
}

std::vector<WorkerSlot> worker_slots(const std::vector<int>& gpus, int per_gpu, int cpu_workers, int cores) {
  check_gpu_slots(gpus, per_gpu);
  const int total = int(gpus.size()) * per_gpu + std::max(0, cpu_workers);
  const std::string share = std::to_string(std::max(1, cores / std::max(1, total)));
  std::vector<WorkerSlot> slots;
  for (int g : gpus)
    for (int m = 0; m < per_gpu; ++m) {
      std::string name = "gpu " + std::to_string(g);
      if (per_gpu > 1) name += " (" + std::to_string(m + 1) + " of " + std::to_string(per_gpu) + ")";
      slots.push_back({name, {"CUDA_VISIBLE_DEVICES=" + std::to_string(g), "SP_CPU_THREADS=" + share},
                       {"--device", "cuda"}});
    }
  for (int w = 0; w < cpu_workers; ++w)
    slots.push_back({"cpu worker " + std::to_string(w),
                     {"OPENBLAS_NUM_THREADS=" + share, "SP_CPU_THREADS=" + share},
                     {"--device", "cpu"}});
  return slots;
}

std::string tail_lines(const std::string& path, int n) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  std::vector<std::string> lines;
  std::string cur;
  for (char c : text) {
    if (c == '\n' || c == '\r') {
      if (!cur.empty()) lines.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) lines.push_back(cur);
  std::string out;
  for (size_t i = lines.size() > size_t(n) ? lines.size() - size_t(n) : 0; i < lines.size(); ++i)
    out += (out.empty() ? "" : "\n") + lines[i];
  return out;
}

std::vector<WorkerJob> run_worker_pool(const std::string& sp_train_path, const std::string& config_path,
                                       const std::string& dir, const std::vector<int>& shadows,
                                       const std::vector<WorkerSlot>& slots, double status_interval_s,
                                       const std::function<void(const std::string&)>& on_event) {
  SP_CHECK(!slots.empty(), "run_worker_pool: no worker slots");
  std::vector<WorkerJob> jobs;
  for (int k : shadows) jobs.push_back({k, -1, 0});
  std::list<size_t> pending;
  for (size_t i = 0; i < jobs.size(); ++i) pending.push_back(i);
  std::map<pid_t, Running> running;
  std::vector<bool> slot_busy(slots.size(), false);
  std::set<int> waiting;  // shadows passed over because another process holds their lock
  size_t finished = 0;
  auto log_of = [&](int k) { return shadow_dir(dir, k) + "/train.log"; };
  auto shadow_name = [](int k) { return "shadow " + std::to_string(k); };
  auto last_status = Clock::now(), next_lock_check = Clock::now();

  while (finished < jobs.size()) {
    // Free slots take the first pending shadows nobody else is training. The locks are looked at twice a
    // second at most: each look takes a shared lock for an instant, which a trainer starting just then
    // would see as busy (it then waits for the lock instead of failing).
    size_t free_slots = size_t(std::count(slot_busy.begin(), slot_busy.end(), false));
    if (free_slots > 0 && !pending.empty() && Clock::now() >= next_lock_check) {
      next_lock_check = Clock::now() + std::chrono::milliseconds(500);
      for (auto it = pending.begin(); it != pending.end() && free_slots > 0;) {
        WorkerJob& j = jobs[*it];
        const std::string d = shadow_dir(dir, j.shadow);
        // Finished meanwhile by another process (an invalid record may be why this shadow is pending: sp_train
        // moves it aside and trains the shadow again).
        if (shadow_finished(d)) {
          j.exit_status = 0;
          ++finished;
          waiting.erase(j.shadow);
          on_event(shadow_name(j.shadow) + ": finished by another process");
          it = pending.erase(it);
          continue;
        }
        if (data::FileLock::is_held(shadow_lock_path(dir, j.shadow))) {
          if (waiting.insert(j.shadow).second)
            on_event(shadow_name(j.shadow) + ": being trained by " + shadow_lock_holder(dir, j.shadow) +
                     ", waiting (the others first; it is taken over if that process dies)");
          ++it;
          continue;
        }
        size_t s = size_t(std::find(slot_busy.begin(), slot_busy.end(), false) - slot_busy.begin());
        std::vector<std::string> argv = {sp_train_path, config_path, "--out", dir, "--shadow", std::to_string(j.shadow),
                                         "--log-every", std::to_string(std::max(1.0, status_interval_s))};
        argv.insert(argv.end(), slots[s].args.begin(), slots[s].args.end());
        pid_t pid = spawn_dying_with_parent(argv, slots[s].env, log_of(j.shadow));
        running[pid] = {*it, s, Clock::now()};
        slot_busy[s] = true;
        --free_slots;
        const bool took_over = waiting.erase(j.shadow) > 0;
        on_event(shadow_name(j.shadow) + ": " + (took_over ? "lock released; " : "") + "started on " + slots[s].name +
                 " (log: " + log_of(j.shadow) + ")");
        it = pending.erase(it);
      }
    }
    int status = 0;
    pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid < 0 && errno != EINTR && errno != ECHILD) SP_FAIL("waitpid: ", std::strerror(errno));
    if (pid > 0 && running.count(pid)) {
      Running r = running[pid];
      running.erase(pid);
      slot_busy[r.slot] = false;
      next_lock_check = Clock::now();
      WorkerJob& j = jobs[r.job];
      j.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
      j.seconds = std::chrono::duration<double>(Clock::now() - r.start).count();
      ++finished;
      std::string tail = tail_lines(log_of(j.shadow), 1);
      if (j.exit_status == 0) {
        on_event(shadow_name(j.shadow) + ": finished in " + format_duration(j.seconds) + " — " + tail);
      } else {
        std::string why = WIFSIGNALED(status) ? "killed by signal " + std::to_string(WTERMSIG(status))
                                              : "exit status " + std::to_string(j.exit_status);
        mark_failed(dir, j.shadow, why + ": " + tail_lines(log_of(j.shadow), 3), j.exit_status);
        on_event(shadow_name(j.shadow) + ": FAILED (" + why + "): " + tail);
      }
      continue;
    }
    if (std::chrono::duration<double>(Clock::now() - last_status).count() >= status_interval_s &&
        (!running.empty() || !waiting.empty())) {
      last_status = Clock::now();
      std::string line = std::to_string(finished) + "/" + std::to_string(jobs.size()) + " finished";
      for (const auto& [p, r] : running) line += " | " + slots[r.slot].name + ": " + last_line(log_of(jobs[r.job].shadow));
      if (!waiting.empty()) {
        std::vector<int> w(waiting.begin(), waiting.end());
        line += " | waiting for " + std::string(w.size() == 1 ? "shadow " : "shadows ") + format_index_list(w) +
                " (locked by another process)";
      }
      on_event(line);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return jobs;
}

}  // namespace sp::audit
