// SLURM job scripts for an experiment: a job array with one task per shadow model to train
// (`sp_train CONFIG --out DIR --shadow $SLURM_ARRAY_TASK_ID`) and a report job that runs after it whatever
// its tasks' outcome (`sp_audit CONFIG --out DIR --no-train`: attacks, report, and the list of shadows that
// failed). Only text is produced here; writing and submitting is paradigms/audit/slurm_submit.h. Every
// option is validated before anything is written, so a typo is an error naming the option instead of a
// job that sbatch rejects or, worse, a directive it silently ignores. Tested in tests/test_slurm.cpp
// (script content, array specs, option validation) and by tests/slurm/slurm_e2e.sh on a real cluster.
#pragma once
#include <string>
#include <vector>

namespace sp::audit {

struct SlurmOptions {
  std::string partition;            // --partition (a name or a comma-separated list); empty: the default one
  std::string account;              // --account
  std::string time_limit;           // --time of each array task: MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS
  int cpus_per_task = 0;            // --cpus-per-task; 0: not set
  std::string mem;                  // --mem: a number with an optional K, M, G or T suffix
  std::string gres;                 // --gres of each array task, e.g. gpu:1 or gpu:h100:1
  std::vector<std::string> extra;   // more #SBATCH options for both jobs, e.g. --qos=high
  int array_limit = 0;              // at most this many array tasks at once (%N); 0: no limit
  std::string log_dir;              // where the jobs' output goes; empty: DIR/slurm/logs
  std::string job_name = "synpriv";
};

// Throws an sp::Error naming the option when any value is malformed or holds characters that would change
// the meaning of an #SBATCH line (spaces, quotes, newlines...).
void validate_slurm_options(const SlurmOptions& o);

// Everything the scripts refer to; paths absolute (the jobs run in another working directory, perhaps on
// another machine that shares the file system).
struct SlurmJobs {
  std::string out_dir;                   // the experiment directory
  std::string config;                    // the configuration copy both jobs read
  std::string sp_train, sp_audit;        // the binaries
  std::vector<int> shadows;              // the array's task ids: shadow models to train, ascending
  std::vector<std::string> train_args;   // sp_train's arguments after --shadow K (e.g. --device cuda)
  std::vector<std::string> report_args;  // sp_audit's arguments after CONFIG --out DIR --no-train
};

// "0-3,7,9-10" (+ "%N" with a limit): SLURM's --array value for ascending, distinct indices.
std::string array_spec(const std::vector<int>& indices, int limit = 0);

// The log directory the scripts write to (o.log_dir, or DIR/slurm/logs).
std::string slurm_log_dir(const SlurmOptions& o, const std::string& out_dir);

std::string train_array_script(const SlurmOptions& o, const SlurmJobs& j);
std::string report_script(const SlurmOptions& o, const SlurmJobs& j);

// `s` quoted for a POSIX shell (single quotes; embedded ones as '\'').
std::string shell_quote(const std::string& s);

// The job id in `sbatch --parsable` output ("<id>" or "<id>;<cluster>", then a newline); throws otherwise.
std::string parse_sbatch_job_id(const std::string& stdout_text);

}  // namespace sp::audit
