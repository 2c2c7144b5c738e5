// Running a program without a shell and capturing its standard output and standard error separately (sbatch
// prints the job id on one and its complaints on the other). Tested in tests/test_slurm.cpp.
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

}  // namespace sp::audit
