// `sp_audit CONFIG --out DIR --slurm [...]`: prepares the experiment directory, writes the job scripts of
// paradigms/audit/slurm.h into DIR/slurm/ and submits them with sbatch: the training array (one task per
// shadow model not yet finished) and the report job, which depends on the array with afterany so that a
// failed shadow is reported instead of blocking the report forever. With --dry-run the scripts are written
// and the sbatch commands printed, nothing is submitted.
//   DIR/slurm/config.json         the resolved configuration (dataset path made absolute) both jobs read,
//                                 so that editing or moving the user's copy does not change queued jobs
//   DIR/slurm/train_array.sbatch  DIR/slurm/report.sbatch  DIR/slurm/logs/  DIR/slurm/jobs.json (job ids)
// The experiment itself (audit set, membership, config.json) is created here, before submission, so that a
// directory holding another configuration is refused now rather than by every array task; so is a directory
// whose earlier submission (DIR/slurm/jobs.json) squeue still lists, as a second array would race the first. Tested in
// tests/test_slurm.cpp (with a stand-in sbatch) and tests/slurm/slurm_e2e.sh (a real single-node SLURM).
#pragma once
#include <cstdio>
#include <string>

#include "paradigms/audit/slurm.h"

namespace CLI {
class App;
}

namespace sp::audit {

struct SlurmCliOptions {
  bool enabled = false;          // --slurm
  bool dry_run = false;          // --dry-run
  std::string config, out;       // CONFIG, --out DIR
  std::string data_path;         // --data: overrides CONFIG's dataset path (the jobs' copy carries it)
  std::string precision;         // sp_train --precision (or --tf32): overrides device.precision (the jobs' copy
                                 // carries it: bf16 is another experiment, the directory must be made as one)
  int first = 0, last = -1;      // shadows to train, inclusive; last < first: all of CONFIG's
  bool range_given = false;      // --shadows was given: the report job covers the same range
  SlurmOptions slurm;
  bool report_job = true;        // submit the report job after the array (sp_train --slurm: no)
  std::vector<std::string> train_args;  // passed on to every sp_train task (--device, --tf32, ...)
  std::string sbatch = "sbatch"; // the submitting program (tests use a stand-in)
  std::string squeue = "squeue"; // asked whether an earlier submission's jobs are still active
  std::string bin_dir;           // where sp_train and sp_audit are; empty: the running program's directory
};

// Adds --slurm (its help from o.report_job), --dry-run, --partition, --account, --time, --cpus-per-task, --mem, --gres, --array-limit,
// --sbatch-extra and --slurm-log-dir to `app`, storing into `o` (each needs --slurm).
void add_slurm_cli_options(CLI::App& app, SlurmCliOptions& o);

// Prepares DIR, writes the scripts and submits them (or prints the commands with dry_run); progress and
// job ids go to `log`. Returns 0; every problem (bad option, another configuration in DIR, sbatch missing or
// refusing, with its stderr) throws sp::Error.
int run_slurm_submit(const SlurmCliOptions& o, std::FILE* log = stdout);

}  // namespace sp::audit
