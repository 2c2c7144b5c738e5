// SLURM job script text and option validation (see slurm.h).
#include "paradigms/audit/slurm.h"

#include <regex>

#include "kernels/error.h"

namespace sp::audit {
namespace {

void check_matches(const std::string& value, const std::regex& re, const char* option, const char* expected) {
  SP_CHECK(std::regex_match(value, re), "slurm option ", option, ": '", value, "' is not ", expected);
}

// Paths go into #SBATCH lines unquoted: no whitespace, quotes, '%' (a filename pattern there) or backslash.
void check_directive_path(const std::string& path, const char* what) {
  static const std::regex bad(R"([\s"'%\\])");
  SP_CHECK(!std::regex_search(path, bad), "slurm: ", what, " '", path,
           "' holds whitespace, a quote, '%' or '\\', which #SBATCH lines cannot carry; choose a plainer path");
}

// The #SBATCH lines both jobs share.
std::string common_directives(const SlurmOptions& o) {
  std::string s;
  auto add = [&](const std::string& line) { s += "#SBATCH " + line + "\n"; };
  if (!o.partition.empty()) add("--partition=" + o.partition);
  if (!o.account.empty()) add("--account=" + o.account);
  if (!o.time_limit.empty()) add("--time=" + o.time_limit);
  if (o.cpus_per_task > 0) add("--cpus-per-task=" + std::to_string(o.cpus_per_task));
  if (!o.mem.empty()) add("--mem=" + o.mem);
  for (const std::string& e : o.extra) add(e);
  return s;
}

void append_quoted(std::string& s, const std::vector<std::string>& args) {
  for (const std::string& a : args) {
    s += ' ';
    s += shell_quote(a);
  }
}

// The start of a job script: what it is, its name and output file, then `more` and the shared directives.
std::string script_head(const SlurmOptions& o, const SlurmJobs& j, const std::string& what, const std::string& job,
                        const std::string& output, const std::string& more) {
  validate_slurm_options(o);
  std::string logs = slurm_log_dir(o, j.out_dir);
  check_directive_path(logs, "log directory");
  return "#!/bin/bash\n# synpriv: " + what + " of the experiment " + j.out_dir +
         "\n# Written by sp_audit --slurm; resubmitting it is safe (finished work is skipped).\n#SBATCH --job-name=" +
         o.job_name + "-" + job + "\n" + more + "#SBATCH --output=" + logs + "/" + output + "\n" + common_directives(o);
}

}  // namespace

void validate_slurm_options(const SlurmOptions& o) {
  static const std::regex name(R"([A-Za-z0-9_.-]+)");
  static const std::regex names(R"([A-Za-z0-9_.-]+(,[A-Za-z0-9_.-]+)*)");
  static const std::regex time(R"(([0-9]+-)?[0-9]+(:[0-9]+){0,2}|UNLIMITED|INFINITE)");
  static const std::regex mem(R"([0-9]+[KMGT]?)");
  static const std::regex gres(R"([A-Za-z0-9_.:-]+(,[A-Za-z0-9_.:-]+)*)");
  static const std::regex extra(R"(--?[A-Za-z][A-Za-z0-9-]*([= ][^\s'"\\]+)?)");
  if (!o.partition.empty()) check_matches(o.partition, names, "--partition", "a partition name or list (letters, digits, _ . -)");
  if (!o.account.empty()) check_matches(o.account, name, "--account", "an account name (letters, digits, _ . -)");
  if (!o.time_limit.empty())
    check_matches(o.time_limit, time, "--time", "a time limit (MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS)");
  SP_CHECK(o.cpus_per_task >= 0, "slurm option --cpus-per-task: ", o.cpus_per_task, " is negative");
  if (!o.mem.empty()) check_matches(o.mem, mem, "--mem", "a memory size (a number with an optional K, M, G or T)");
  if (!o.gres.empty()) check_matches(o.gres, gres, "--gres", "a generic resource list such as gpu:1 or gpu:h100:2");
  for (const std::string& e : o.extra)
    check_matches(e, extra, "--sbatch-extra", "one sbatch option such as --qos=high (no spaces, quotes or newlines)");
  SP_CHECK(o.array_limit >= 0, "slurm option --array-limit: ", o.array_limit, " is negative");
  check_matches(o.job_name, name, "job name", "a job name (letters, digits, _ . -)");
  if (!o.log_dir.empty()) check_directive_path(o.log_dir, "log directory");
}

std::string array_spec(const std::vector<int>& indices, int limit) {
  SP_CHECK(!indices.empty(), "slurm job array: no shadow models to train (empty index list)");
  std::string s;
  for (size_t i = 0; i < indices.size();) {
    SP_CHECK(indices[i] >= 0, "slurm job array: negative index ", indices[i]);
    SP_CHECK(i == 0 || indices[i] > indices[i - 1], "slurm job array: indices not ascending and distinct (",
             indices[i - 1], " then ", indices[i], ")");
    size_t run = i;
    while (run + 1 < indices.size() && indices[run + 1] == indices[run] + 1) ++run;
    // Appended piecewise: GCC 12 warns falsely (-Wrestrict) on "," + std::to_string(...).
    if (!s.empty()) s += ',';
    s += std::to_string(indices[i]);
    if (run > i) {
      s += '-';
      s += std::to_string(indices[run]);
    }
    i = run + 1;
  }
  SP_CHECK(limit >= 0, "slurm job array: negative concurrency limit ", limit);
  if (limit > 0) {
    s += '%';
    s += std::to_string(limit);
  }
  return s;
}

std::string slurm_log_dir(const SlurmOptions& o, const std::string& out_dir) {
  return o.log_dir.empty() ? out_dir + "/slurm/logs" : o.log_dir;
}

std::string train_array_script(const SlurmOptions& o, const SlurmJobs& j) {
  std::string s = script_head(o, j, "shadow-model training, one array task per shadow model,", "train",
                              "train_%A_%a.out", "#SBATCH --array=" + array_spec(j.shadows, o.array_limit) + "\n");
  if (!o.gres.empty()) s += "#SBATCH --gres=" + o.gres + "\n";
  s += "set -euo pipefail\n";
  s += "exec " + shell_quote(j.sp_train) + " " + shell_quote(j.config) + " --out " + shell_quote(j.out_dir) +
       " --shadow \"$SLURM_ARRAY_TASK_ID\"";
  append_quoted(s, j.train_args);
  return s + "\n";
}

std::string report_script(const SlurmOptions& o, const SlurmJobs& j) {
  std::string s = script_head(o, j, "attacks and report, after the training array,", "report", "report_%j.out", "");
  s += "set -euo pipefail\n";
  s += "exec " + shell_quote(j.sp_audit) + " " + shell_quote(j.config) + " --out " + shell_quote(j.out_dir) +
       " --no-train";
  append_quoted(s, j.report_args);
  return s + "\n";
}

std::string shell_quote(const std::string& s) {
  static const std::regex plain(R"([A-Za-z0-9_./=:,+@-]+)");
  if (std::regex_match(s, plain)) return s;
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

std::string parse_sbatch_job_id(const std::string& text) {
  static const std::regex parsable(R"(\s*([0-9]+)(;[^\s]*)?\s*)");
  std::smatch m;
  SP_CHECK(std::regex_match(text, m, parsable), "sbatch --parsable printed '", text, "', not a job id");
  return m[1].str();
}

}  // namespace sp::audit
