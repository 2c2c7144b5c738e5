// Starting several processes at once and collecting their exit statuses, for the tests where many tools
// open one experiment directory concurrently (tests/test_data_tool.cpp, tests/test_sp_train.cpp).
#pragma once
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>

#include <cerrno>
#include <string>
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

}  // namespace sp::test
