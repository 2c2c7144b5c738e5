// Writing and submitting the SLURM jobs of an experiment (see slurm_submit.h).
#include "paradigms/audit/slurm_submit.h"
#include "paradigms/paradigm.h"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <filesystem>
#include <sstream>
#include <nlohmann/json.hpp>

#include "data/atomic_file.h"
#include "data/json_read.h"
#include "data/file_util.h"
#include "paradigms/audit/subprocess.h"
#include "paradigms/engine/experiment_run.h"
#include "paradigms/engine/shadow_metrics.h"

namespace fs = std::filesystem;

namespace sp::audit {
namespace {

std::string running_program_dir() {
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  SP_CHECK(!ec, "--slurm: cannot find the running program (/proc/self/exe: ", ec.message(), ")");
  return exe.parent_path().string();
}

std::string existing_program(const std::string& dir, const char* name) {
  std::string p = (fs::absolute(dir) / name).lexically_normal().string();
  SP_CHECK(::access(p.c_str(), X_OK) == 0, "--slurm: ", p,
           " not found or not executable (the jobs run the binaries of this build; build ", name, " first)");
  return p;
}

// The configuration the jobs read: the resolved one, its dataset path made absolute (the jobs' working
// directory is not the user's).
std::string job_config_text(const RunConfig& cfg) {
  nlohmann::json j = cfg.resolved;
  if (j.contains("dataset") && j["dataset"].contains("path"))
    j["dataset"]["path"] = fs::absolute(j["dataset"]["path"].get<std::string>()).lexically_normal().string();
  return j.dump(2) + "\n";
}

// Runs sbatch --parsable with `args` and returns the job id; throws with sbatch's own message otherwise.
std::string submit(const std::string& sbatch, std::vector<std::string> args) {
  args.insert(args.begin(), {sbatch, "--parsable"});
  ProcessResult r = run_capture(args);
  SP_CHECK(r.started, "--slurm: cannot run '", sbatch, "' (", r.start_error,
           "): is SLURM installed and is this a submit host? --dry-run writes the scripts without submitting");
  std::string command;
  for (const std::string& a : args) command += (command.empty() ? "" : " ") + shell_quote(a);
  SP_CHECK(r.exit_code == 0, "--slurm: '", command, "' failed (exit ", r.exit_code, "): ",
           r.err.empty() ? r.out : r.err);
  return parse_sbatch_job_id(r.out);
}

// The jobs of an earlier submission into this directory (DIR/slurm/jobs.json) that squeue still lists. A
// second array training the same shadows would only race the first; where squeue cannot answer (no cluster
// here, e.g. a --dry-run on a laptop) nothing is known to be active.
std::vector<std::string> active_earlier_jobs(const std::string& jobs_json, const std::string& squeue) {
  std::vector<std::string> ids, active;
  std::error_code ec;
  if (!fs::exists(jobs_json, ec)) return active;
  try {
    std::vector<uint8_t> bytes = data::read_file_bytes(jobs_json);
    nlohmann::json j = data::parse_json_text(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()), jobs_json);
    for (const char* key : {"train_array_job", "report_job"})
      if (j.contains(key)) ids.push_back(j[key].get<std::string>());
  } catch (const std::exception&) {
    return active;  // unreadable: written by hand or truncated; not worth refusing a submission over
  }
  if (ids.empty()) return active;
  std::string list;
  for (const std::string& id : ids) list += (list.empty() ? "" : ",") + id;
  ProcessResult r = run_capture({squeue, "-h", "-o", "%F", "-j", list});
  if (!r.started || r.exit_code != 0) return active;
  std::istringstream in(r.out);
  std::string id;
  while (in >> id)
    if (std::find(active.begin(), active.end(), id) == active.end()) active.push_back(id);
  return active;
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const std::string& x : v) s += (s.empty() ? "" : " ") + x;
  return s;
}

}  // namespace

void add_slurm_cli_options(CLI::App& app, SlurmCliOptions& o) {
  auto* flag = app.add_flag("--slurm", o.enabled,
                            std::string("submit to SLURM: a job array training one shadow model per task") +
                                (o.report_job ? ", then a job running the attacks and the report" : "") +
                                " (scripts in DIR/slurm/)");
  app.add_flag("--dry-run", o.dry_run, "with --slurm: write the scripts and print the sbatch commands only")->needs(flag);
  SlurmOptions& s = o.slurm;
  app.add_option("--partition", s.partition, "SLURM partition (or comma-separated list)")->needs(flag);
  app.add_option("--account", s.account, "SLURM account to charge")->needs(flag);
  app.add_option("--time", s.time_limit, "time limit per job, e.g. 02:00:00 or 1-00:00:00")->needs(flag);
  app.add_option("--cpus-per-task", s.cpus_per_task, "CPUs per array task")->check(CLI::PositiveNumber)->needs(flag);
  app.add_option("--mem", s.mem, "memory per job, e.g. 16G")->needs(flag);
  app.add_option("--gres", s.gres, "generic resources per array task, e.g. gpu:1")->needs(flag);
  app.add_option("--array-limit", s.array_limit, "at most this many array tasks running at once")
      ->check(CLI::PositiveNumber)
      ->needs(flag);
  app.add_option("--sbatch-extra", s.extra, "one more #SBATCH option for both jobs, e.g. --qos=high (repeatable)")
      ->needs(flag);
  app.add_option("--slurm-log-dir", s.log_dir, "directory for the jobs' output (default DIR/slurm/logs)")->needs(flag);
}

int run_slurm_submit(const SlurmCliOptions& o, std::FILE* log) {
  SP_CHECK(!o.config.empty() && !o.out.empty(), "--slurm: needs CONFIG and --out DIR");
  SlurmOptions opt = o.slurm;
  if (!opt.log_dir.empty()) opt.log_dir = fs::absolute(opt.log_dir).lexically_normal().string();
  validate_slurm_options(opt);
  RunConfig cfg = load_config(o.config);
  if (!o.data_path.empty()) override_dataset_path(cfg, o.data_path);
  if (!o.precision.empty()) set_precision(cfg, parse_precision(o.precision));
  int first = o.first, last = o.last < o.first ? cfg.num_shadows - 1 : o.last;
  SP_CHECK(first >= 0 && last < cfg.num_shadows, "--slurm: shadows ", first, "-", last,
           " out of range: the configuration has num_shadows = ", cfg.num_shadows);

  SlurmJobs jobs;
  jobs.out_dir = fs::absolute(o.out).lexically_normal().string();
  std::string bin = o.bin_dir.empty() ? running_program_dir() : o.bin_dir;
  jobs.sp_train = existing_program(bin, "sp_train");
  if (o.report_job) jobs.sp_audit = existing_program(bin, "sp_audit");
  jobs.train_args = o.train_args;
  if (o.range_given) jobs.report_args = {"--shadows", std::to_string(first) + "-" + std::to_string(last)};

  const std::string slurm_dir = jobs.out_dir + "/slurm";
  jobs.config = slurm_dir + "/config.json";
  std::vector<int> done;
  for (int k = first; k <= last; ++k)
    (shadow_finished(jobs.out_dir + "/shadow/" + std::to_string(k)) ? done : jobs.shadows).push_back(k);
  SP_CHECK(!jobs.shadows.empty() || o.report_job, "--slurm: shadows ", first, "-", last,
           " are all trained already and no report job was asked for: nothing to submit");
  // The scripts first: a problem with them (e.g. spaces in the log path) leaves DIR untouched.
  std::string train_text = jobs.shadows.empty() ? "" : train_array_script(opt, jobs);
  std::string report_text = o.report_job ? report_script(opt, jobs) : "";
  std::vector<std::string> active = active_earlier_jobs(slurm_dir + "/jobs.json", o.squeue);
  SP_CHECK(active.empty(), "--slurm: jobs ", join(active), " of an earlier submission for ", jobs.out_dir,
           " are still queued or running; wait for them (squeue -j ", join(active), ") or cancel them (scancel) first");
  // Refuses another configuration, and data the paradigm cannot use, before anything is queued. The jobs'
  // configuration is the one as the directory leaves it (an older directory's query views).
  check_run_dir(jobs.out_dir, cfg);
  paradigm_of(cfg).check_experiment(prepare_experiment_run(cfg, jobs.out_dir));

  fs::create_directories(slurm_log_dir(opt, jobs.out_dir));
  write_file_atomic(jobs.config, job_config_text(cfg));
  const std::string train_path = slurm_dir + "/train_array.sbatch", report_path = slurm_dir + "/report.sbatch";
  if (!train_text.empty()) write_file_atomic(train_path, train_text);
  if (o.report_job) write_file_atomic(report_path, report_text);
  std::fprintf(log, "--slurm: %s: %zu shadow model%s to train (array %s), %zu already trained\n",
               jobs.out_dir.c_str(), jobs.shadows.size(), jobs.shadows.size() == 1 ? "" : "s",
               jobs.shadows.empty() ? "none" : array_spec(jobs.shadows, opt.array_limit).c_str(), done.size());

  std::vector<std::string> train_args = {train_path};
  auto report_args = [&](const std::string& after) {
    std::vector<std::string> a;
    if (!after.empty()) a.push_back("--dependency=afterany:" + after);
    a.push_back(report_path);
    return a;
  };
  if (o.dry_run) {
    std::fprintf(log, "  --dry-run: wrote the scripts in %s; submit them with:\n", slurm_dir.c_str());
    if (!jobs.shadows.empty())
      std::fprintf(log, "  jid=$(%s --parsable %s)\n", shell_quote(o.sbatch).c_str(), shell_quote(train_path).c_str());
    if (o.report_job)
      std::fprintf(log, "  %s --parsable %s\n", shell_quote(o.sbatch).c_str(),
                   join(report_args(jobs.shadows.empty() ? "" : "${jid%%;*}")).c_str());
    return 0;
  }

  nlohmann::json record = {{"shadows", jobs.shadows}, {"already_trained", done}};
  std::string train_id, report_id;
  if (!jobs.shadows.empty()) {
    train_id = submit(o.sbatch, train_args);
    record["train_array_job"] = train_id;
    std::fprintf(log, "  submitted the training array: job %s (%zu tasks)\n", train_id.c_str(), jobs.shadows.size());
  }
  if (o.report_job) {
    try {
      report_id = submit(o.sbatch, report_args(train_id));
    } catch (const Error& e) {
      write_file_atomic(slurm_dir + "/jobs.json", record.dump(2) + "\n");
      SP_FAIL(e.what(), "\n(the training array ", train_id.empty() ? "was not needed" : "job " + train_id + " is queued",
              "; submit the report later with: sbatch ", join(report_args(train_id)), ")");
    }
    record["report_job"] = report_id;
    std::fprintf(log, "  submitted the report: job %s%s\n", report_id.c_str(),
                 train_id.empty() ? "" : (" (runs when job " + train_id + " has ended)").c_str());
  }
  write_file_atomic(slurm_dir + "/jobs.json", record.dump(2) + "\n");
  std::string ids = train_id + (train_id.empty() || report_id.empty() ? "" : ",") + report_id;
  std::fprintf(log, "  follow with: squeue -j %s   (logs in %s)\n", ids.c_str(),
               slurm_log_dir(opt, jobs.out_dir).c_str());
  return 0;
}

}  // namespace sp::audit
