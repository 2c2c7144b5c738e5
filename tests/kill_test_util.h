// Kill-and-resume tests of sp_train (tests/test_sp_train*.cpp, tests/gpu/test_sp_train_gpu.cpp): start a
// command with its output discarded, wait for a file it writes (an epoch checkpoint), then SIGKILL it (or
// send it another signal that ends it, SIGTERM).
#pragma once
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace sp::test {

// Runs args[0] with args; once `file` exists (or after timeout_s) kills it with `sig`. Returns "" when the
// file appeared and the process died of the signal, else what went wrong (the file never appeared, or the
// process finished before it could be killed).
inline std::string kill_when_file_appears(std::vector<std::string> args, const std::string& file, double timeout_s,
                                          int sig = SIGKILL) {
  std::vector<char*> argv;
  for (auto& s : args) argv.push_back(s.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  int rc = posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) return "posix_spawn " + args[0] + " failed";
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  while (!std::filesystem::exists(file) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  const bool appeared = std::filesystem::exists(file);
  if (::kill(pid, sig) != 0) return "kill failed";
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid) return "waitpid failed";
  // Killed at the deadline without the file: say so, rather than let the caller fail on the missing file.
  if (!appeared) return file + " did not appear within " + std::to_string(timeout_s) + " s (a loaded machine?)";
  if (!WIFSIGNALED(status) || WTERMSIG(status) != sig) return args[0] + " finished before it could be killed";
  return "";
}

}  // namespace sp::test
