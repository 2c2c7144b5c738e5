// Concurrent shadow training in child processes (see worker_pool.h).
#include "paradigms/audit/worker_pool.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "kernels/error.h"
#include "paradigms/audit/shadow_scan.h"
#include "paradigms/engine/progress.h"

extern char** environ;

namespace sp::audit {

namespace {

using Clock = std::chrono::steady_clock;

struct Running {
  size_t job = 0, slot = 0;
  Clock::time_point start;
};

pid_t spawn_child(const std::vector<std::string>& argv_s, const std::vector<std::string>& extra_env,
                  const std::string& log_path) {
  std::vector<std::string> env_s;
  for (char** e = environ; *e; ++e) {
    std::string kv = *e;
    bool overridden = false;
    for (const std::string& x : extra_env) overridden = overridden || kv.rfind(x.substr(0, x.find('=') + 1), 0) == 0;
    if (!overridden) env_s.push_back(kv);
  }
  env_s.insert(env_s.end(), extra_env.begin(), extra_env.end());
  std::vector<char*> argv, envp;
  for (const std::string& a : argv_s) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const std::string& e : env_s) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  SP_CHECK(rc == 0, "cannot start worker '", argv_s[0], "': ", std::strerror(rc));
  return pid;
}

std::string last_line(const std::string& path) { return tail_lines(path, 1); }

}  // namespace

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
  std::map<pid_t, Running> running;
  std::vector<bool> slot_busy(slots.size(), false);
  size_t next = 0, finished = 0;
  auto log_of = [&](int k) { return dir + "/shadow/" + std::to_string(k) + "/train.log"; };
  auto last_status = Clock::now();

  while (finished < jobs.size()) {
    for (size_t s = 0; s < slots.size() && next < jobs.size(); ++s) {
      if (slot_busy[s]) continue;
      WorkerJob& j = jobs[next];
      std::vector<std::string> argv = {sp_train_path, config_path, "--out", dir, "--shadow", std::to_string(j.shadow),
                                       "--log-every", std::to_string(std::max(1.0, status_interval_s))};
      argv.insert(argv.end(), slots[s].args.begin(), slots[s].args.end());
      pid_t pid = spawn_child(argv, slots[s].env, log_of(j.shadow));
      running[pid] = {next, s, Clock::now()};
      slot_busy[s] = true;
      on_event("shadow " + std::to_string(j.shadow) + ": started on " + slots[s].name + " (log: " + log_of(j.shadow) + ")");
      ++next;
    }
    int status = 0;
    pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid < 0 && errno != EINTR && errno != ECHILD) SP_FAIL("waitpid: ", std::strerror(errno));
    if (pid > 0 && running.count(pid)) {
      Running r = running[pid];
      running.erase(pid);
      slot_busy[r.slot] = false;
      WorkerJob& j = jobs[r.job];
      j.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
      j.seconds = std::chrono::duration<double>(Clock::now() - r.start).count();
      ++finished;
      std::string tail = tail_lines(log_of(j.shadow), 1);
      if (j.exit_status == 0) {
        on_event("shadow " + std::to_string(j.shadow) + ": finished in " + format_duration(j.seconds) + " — " + tail);
      } else {
        std::string why = WIFSIGNALED(status) ? "killed by signal " + std::to_string(WTERMSIG(status))
                                              : "exit status " + std::to_string(j.exit_status);
        mark_failed(dir, j.shadow, why + ": " + tail_lines(log_of(j.shadow), 3), j.exit_status);
        on_event("shadow " + std::to_string(j.shadow) + ": FAILED (" + why + "): " + tail);
      }
      continue;
    }
    if (std::chrono::duration<double>(Clock::now() - last_status).count() >= status_interval_s && !running.empty()) {
      last_status = Clock::now();
      std::string line = std::to_string(finished) + "/" + std::to_string(jobs.size()) + " finished";
      for (const auto& [p, r] : running) line += " | " + slots[r.slot].name + ": " + last_line(log_of(jobs[r.job].shadow));
      on_event(line);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return jobs;
}

}  // namespace sp::audit
