// Running a program without a shell and capturing its standard output and standard error separately (sbatch
// prints the job id on one and its complaints on the other), and starting a worker process that dies with
// its parent. Tested in tests/test_slurm.cpp and tests/test_process_faults.cpp.
#pragma once
#include <string>
#include <vector>

namespace sp::audit {

struct ProcessResult {
  bool started = false;     // false: argv[0] could not be run (start_error says why)
  std::string start_error;
  int exit_code = -1;       // -1: killed by a signal
  std::string out, err;
};

// Runs argv (argv[0] found on PATH), stdin from /dev/null, and waits for it.
ProcessResult run_capture(const std::vector<std::string>& argv);

// Starts argv[0] (a path, not looked up) with argv, the environment plus `env` ("KEY=VALUE", replacing
// variables of the same name), stdin from /dev/null and stdout and stderr appended to `log_path`; returns
// its pid without waiting. On Linux the child gets SIGTERM when the calling thread ends, however it ends
// (SIGKILL included), so a killed sp_audit leaves no worker training behind: the death signal is armed
// between fork and exec, before any code of the child runs, which posix_spawn cannot do, and a parent that
// died before that is caught by comparing getppid(). The program itself needs no flag or variable for it.
// Call it from a thread that lives as long as the child should (the main thread).
int spawn_dying_with_parent(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                            const std::string& log_path);

}  // namespace sp::audit
