// Running a program with its output captured (see subprocess.h).
#include "paradigms/audit/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include <cerrno>
#include <cstring>

#include "kernels/error.h"

extern char** environ;

namespace sp::audit {

ProcessResult run_capture(const std::vector<std::string>& argv) {
  SP_CHECK(!argv.empty(), "run_capture: empty command");
  ProcessResult r;
  int out[2], err[2];
  SP_CHECK(pipe2(out, O_CLOEXEC) == 0, "run_capture: pipe: ", std::strerror(errno));
  if (pipe2(err, O_CLOEXEC) != 0) {
    int e = errno;
    close(out[0]);
    close(out[1]);
    SP_FAIL("run_capture: pipe: ", std::strerror(e));
  }
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err[1], 2);
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  close(out[1]);
  close(err[1]);
  if (rc != 0) {
    close(out[0]);
    close(err[0]);
    r.start_error = std::strerror(rc);
    return r;
  }
  r.started = true;
  // Both pipes drained together: a child filling one while we block on the other would never finish.
  pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  std::string* sinks[2] = {&r.out, &r.err};
  int open_fds = 2;
  while (open_fds > 0) {
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      char buf[4096];
      ssize_t n = read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        sinks[i]->append(buf, size_t(n));
      } else if (n == 0 || errno != EINTR) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  for (const pollfd& f : fds)
    if (f.fd >= 0) close(f.fd);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

namespace {

// Between fork and exec only async-signal-safe calls: another thread of the parent may have held the heap's
// lock at the fork. errno goes back through `report` when the program cannot be started.
[[noreturn]] void child_failed(int report) {
  int err = errno;
  while (write(report, &err, sizeof err) < 0 && errno == EINTR) {
  }
  _exit(127);
}

[[noreturn]] void exec_child(pid_t parent, char* const* argv, char* const* envp, const char* log_path, int report) {
#ifdef __linux__
  if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0) child_failed(report);
#endif
  if (getppid() != parent) _exit(127);  // the parent died before the signal was armed: nobody wants this worker
  int in = open("/dev/null", O_RDONLY);
  int log = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (in < 0 || log < 0 || dup2(in, 0) < 0 || dup2(log, 1) < 0 || dup2(log, 2) < 0) child_failed(report);
  if (in > 2) close(in);
  if (log > 2) close(log);
  execve(argv[0], argv, envp);
  child_failed(report);
}

}  // namespace

int spawn_dying_with_parent(const std::vector<std::string>& argv_s, const std::vector<std::string>& env,
                            const std::string& log_path) {
  SP_CHECK(!argv_s.empty(), "spawn_dying_with_parent: empty command");
  std::vector<std::string> env_s;
  for (char** e = environ; *e; ++e) {
    std::string kv = *e;
    bool replaced = false;
    for (const std::string& x : env) replaced = replaced || kv.rfind(x.substr(0, x.find('=') + 1), 0) == 0;
    if (!replaced) env_s.push_back(kv);
  }
  env_s.insert(env_s.end(), env.begin(), env.end());
  std::vector<char*> argv, envp;
  for (const std::string& a : argv_s) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const std::string& e : env_s) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);

  int report[2];
  SP_CHECK(pipe2(report, O_CLOEXEC) == 0, "cannot start worker '", argv_s[0], "': pipe: ", std::strerror(errno));
  const pid_t parent = getpid();
  pid_t pid = fork();
  if (pid == 0) exec_child(parent, argv.data(), envp.data(), log_path.c_str(), report[1]);
  int fork_errno = errno;
  close(report[1]);
  if (pid < 0) {
    close(report[0]);
    SP_FAIL("cannot start worker '", argv_s[0], "': fork: ", std::strerror(fork_errno));
  }
  // The pipe closes at a successful exec (O_CLOEXEC) without a byte; otherwise it carries the child's errno.
  int child_errno = 0;
  ssize_t n;
  while ((n = read(report[0], &child_errno, sizeof child_errno)) < 0 && errno == EINTR) {
  }
  close(report[0]);
  if (n > 0) {
    while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    SP_FAIL("cannot start worker '", argv_s[0], "' (log ", log_path, "): ", std::strerror(child_errno));
  }
  return int(pid);
}

}  // namespace sp::audit
