// Starting several processes at once and collecting their exit statuses, for the tests where many tools
// open one experiment directory concurrently (tests/test_data_tool.cpp, tests/test_sp_train.cpp); and, for
// the process-fault tests (tests/test_process_faults.cpp), a process started in the background with its
// output in a file, waiting for it with a deadline, and the children of a process as /proc lists them.
#pragma once
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace sp::test {

// Starts every command (argv[0] found on PATH), output to /dev/null, before waiting for any; returns their
// exit statuses in order (-1: not started or killed by a signal).
inline std::vector<int> run_concurrently(const std::vector<std::vector<std::string>>& commands) {
  std::vector<pid_t> pids;
  for (const auto& argv : commands) {
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    pid_t pid = -1;
    if (posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), environ) != 0) pid = -1;
    posix_spawn_file_actions_destroy(&fa);
    pids.push_back(pid);
  }
  std::vector<int> codes;
  for (pid_t pid : pids) {
    int status = 0;
    bool waited = pid > 0;
    while (waited && waitpid(pid, &status, 0) < 0)
      if (errno != EINTR) waited = false;
    codes.push_back(waited && WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  }
  return codes;
}

// Starts argv (argv[0] a path) with stdout and stderr appended to `log`; its pid, or -1.
inline pid_t start_logged(const std::vector<std::string>& argv, const std::string& log) {
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  pid_t pid = -1;
  if (posix_spawn(&pid, args[0], &fa, nullptr, args.data(), environ) != 0) pid = -1;
  posix_spawn_file_actions_destroy(&fa);
  return pid;
}

// Polls `done` every 20 ms for up to timeout_s seconds; its last answer.
inline bool wait_until(const std::function<bool()>& done, double timeout_s) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return done();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

// Waits for the child `pid`: its exit status, 128 + the signal that killed it, or -1 when it was still
// running after timeout_s (it is then killed, so that no test leaves a process behind).
inline int wait_exit(pid_t pid, double timeout_s) {
  int status = 0;
  pid_t got = 0;
  wait_until([&] { return (got = waitpid(pid, &status, WNOHANG)) != 0; }, timeout_s);
  if (got == 0) {
    ::kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return -1;
  }
  if (got < 0) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// The state letter and parent of a process from /proc/<pid>/stat ('\0' when it does not exist).
inline char process_state(pid_t pid, pid_t* parent = nullptr) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  if (!std::getline(in, text)) return '\0';
  size_t p = text.rfind(')');
  if (p == std::string::npos || p + 4 >= text.size()) return '\0';
  if (parent) *parent = pid_t(std::atol(text.c_str() + p + 4));
  return text[p + 2];
}

// Gone, or a zombie: a zombie runs no code and holds no files.
inline bool process_gone(pid_t pid) {
  char s = process_state(pid);
  return s == '\0' || s == 'Z' || s == 'X';
}

// The live processes whose parent is `pid`.
inline std::vector<pid_t> children_of(pid_t pid) {
  std::vector<pid_t> v;
  DIR* d = opendir("/proc");
  if (!d) return v;
  while (dirent* e = readdir(d)) {
    char* end = nullptr;
    long p = std::strtol(e->d_name, &end, 10);
    pid_t parent = 0;
    if (p > 0 && *end == '\0' && !process_gone(pid_t(p)) && process_state(pid_t(p), &parent) && parent == pid)
      v.push_back(pid_t(p));
  }
  closedir(d);
  return v;
}

// The command line of a process, arguments joined by spaces ("" when it is gone).
inline std::string command_line(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline", std::ios::binary);
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (char& c : s)
    if (c == '\0') c = ' ';
  return s;
}

}  // namespace sp::test
