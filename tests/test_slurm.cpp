// SLURM scale-out without a cluster: the job array spec, validation of every option (bad partition names,
// characters that would change an #SBATCH line, malformed time/memory/gres, an empty shadow list), the
// scripts' content (directives before the first command, quoting, the array task running sp_train on its
// shadow, the report job running sp_audit --no-train), sbatch --parsable output parsing, output capture of a
// child process, and run_slurm_submit with stand-in sbatch programs: the submitted commands and dependency,
// jobs.json, finished shadows left out of the array, --dry-run submitting nothing, sbatch failing or missing,
// a second submission refused while squeue still lists the first one's jobs; sp_train --precision carried
// into the jobs' configuration (and so into the directory's identity).
// sp_audit --slurm --dry-run writes both scripts with the options given; --no-train with it is refused.
// The real cluster test is tests/slurm/slurm_e2e.sh.
#include <sys/stat.h>

#include <cstdio>
#include <functional>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "paradigms/audit/slurm.h"
#include "paradigms/audit/slurm_submit.h"
#include "paradigms/audit/subprocess.h"
#include "paradigms/config.h"
#include "tests/lira_test_util.h"
#include "tests/test_util.h"

using namespace sp;
using namespace sp::audit;
using sp::test::TempDir;
namespace fs = std::filesystem;

namespace {

#define EXPECT_ERROR(stmt, needle)                                                          \
  do {                                                                                      \
    std::string m_;                                                                         \
    try {                                                                                   \
      stmt;                                                                                 \
    } catch (const Error& e) {                                                              \
      m_ = e.what();                                                                        \
    }                                                                                       \
    EXPECT_NE(m_.find(needle), std::string::npos) << "want '" << needle << "' in: " << m_; \
  } while (0)

// A tiny experiment (only prepared here, never trained).
nlohmann::json tiny_config() {
  return {{"seed", 3},
          {"num_shadows", 4},
          {"dataset", {{"name", "shapes10"}, {"seed", 1}, {"train", 60}, {"test", 20}}},
          {"model", {{"name", "resnet18"}, {"width", 2}}},
          {"recipe", {{"epochs", 1}, {"batch_size", 16}, {"optimizer", {{"name", "adam"}, {"lr", 0.002}}}}},
          {"audit", {{"num_audit", 8}}}};
}

SlurmOptions every_option() {
  SlurmOptions o;
  o.partition = "gpu,gpu-long";
  o.account = "proj_42";
  o.time_limit = "1-02:00:00";
  o.cpus_per_task = 8;
  o.mem = "32G";
  o.gres = "gpu:h100:1";
  o.extra = {"--qos=high", "--constraint=a100"};
  o.array_limit = 4;
  o.log_dir = "/scratch/logs";
  return o;
}

void expect_lines(const std::string& script, const std::vector<std::string>& lines) {
  for (const std::string& line : lines)
    EXPECT_NE(script.find(line), std::string::npos) << "want '" << line << "' in:\n" << script;
}

SlurmJobs sample_jobs() {
  SlurmJobs j;
  j.out_dir = "/exp/run 1";
  j.config = "/exp/run 1/slurm/config.json";
  j.sp_train = "/opt/synpriv/bin/sp_train";
  j.sp_audit = "/opt/synpriv/bin/sp_audit";
  j.shadows = {0, 1, 2, 3, 6};
  return j;
}

// The lines of `s` from the first one that is neither a comment nor blank.
bool directives_come_first(const std::string& s) {
  std::istringstream in(s);
  std::string line;
  bool body = false;
  while (std::getline(in, line)) {
    if (line.rfind("#SBATCH", 0) == 0 && body) return false;
    if (!line.empty() && line[0] != '#') body = true;
  }
  return true;
}

void write_executable(const std::string& path, const std::string& text) {
  sp::test::write_text(path, text);
  ::chmod(path.c_str(), 0755);
}

struct Captured {
  char* buf = nullptr;
  size_t len = 0;
  std::FILE* f = open_memstream(&buf, &len);
  std::string text() {
    std::fflush(f);
    return std::string(buf, len);
  }
  ~Captured() {
    std::fclose(f);
    std::free(buf);
  }
};

}  // namespace

TEST(Slurm, ArraySpec) {
  EXPECT_EQ(array_spec({0, 1, 2, 3}), "0-3");
  EXPECT_EQ(array_spec({0, 2, 3, 4, 7}), "0,2-4,7");
  EXPECT_EQ(array_spec({5}), "5");
  EXPECT_EQ(array_spec({0, 1, 5, 6}, 2), "0-1,5-6%2");
  EXPECT_ERROR(array_spec({}), "no shadow models to train");
  EXPECT_ERROR(array_spec({2, 1}), "not ascending");
  EXPECT_ERROR(array_spec({1, 1}), "not ascending");
  EXPECT_ERROR(array_spec({-1, 0}), "negative index");
}

TEST(Slurm, OptionValidation) {
  SlurmOptions good = every_option();
  EXPECT_NO_THROW(validate_slurm_options(good));
  for (const char* t : {"30", "30:00", "02:00:00", "2-12", "2-12:30", "UNLIMITED"}) {
    SlurmOptions o;
    o.time_limit = t;
    EXPECT_NO_THROW(validate_slurm_options(o)) << t;
  }

  auto bad = [&](const std::function<void(SlurmOptions&)>& edit, const std::string& needle) {
    SlurmOptions o = good;
    edit(o);
    EXPECT_ERROR(validate_slurm_options(o), needle);
  };
  bad([](SlurmOptions& o) { o.partition = "gpu long"; }, "--partition: 'gpu long'");
  bad([](SlurmOptions& o) { o.partition = "gpu;rm"; }, "--partition");
  bad([](SlurmOptions& o) { o.partition = "gpu\n#SBATCH --x"; }, "--partition");
  bad([](SlurmOptions& o) { o.partition = "gpu,"; }, "--partition");
  bad([](SlurmOptions& o) { o.account = "a/b"; }, "--account");
  bad([](SlurmOptions& o) { o.time_limit = "2h"; }, "--time: '2h' is not a time limit");
  bad([](SlurmOptions& o) { o.time_limit = "1:2:3:4"; }, "--time");
  bad([](SlurmOptions& o) { o.mem = "16GB"; }, "--mem: '16GB'");
  bad([](SlurmOptions& o) { o.gres = "gpu 1"; }, "--gres");
  bad([](SlurmOptions& o) { o.extra = {"qos=high"}; }, "--sbatch-extra: 'qos=high'");
  bad([](SlurmOptions& o) { o.extra = {"--qos=high\n--x=1"}; }, "--sbatch-extra");
  bad([](SlurmOptions& o) { o.extra = {"--comment='a b'"}; }, "--sbatch-extra");
  bad([](SlurmOptions& o) { o.cpus_per_task = -1; }, "--cpus-per-task");
  bad([](SlurmOptions& o) { o.array_limit = -2; }, "--array-limit");
  bad([](SlurmOptions& o) { o.job_name = "my job"; }, "job name");
  bad([](SlurmOptions& o) { o.log_dir = "/tmp/my logs"; }, "log directory '/tmp/my logs' holds whitespace");
  bad([](SlurmOptions& o) { o.log_dir = "/tmp/log%j"; }, "log directory");
}

TEST(Slurm, TrainArrayScript) {
  SlurmOptions o = every_option();
  std::string s = train_array_script(o, sample_jobs());
  EXPECT_EQ(s.rfind("#!/bin/bash\n", 0), 0u);
  expect_lines(s,
       {"#SBATCH --job-name=synpriv-train\n", "#SBATCH --array=0-3,6%4\n", "#SBATCH --output=/scratch/logs/train_%A_%a.out\n",
        "#SBATCH --partition=gpu,gpu-long\n", "#SBATCH --account=proj_42\n", "#SBATCH --time=1-02:00:00\n",
        "#SBATCH --cpus-per-task=8\n", "#SBATCH --mem=32G\n", "#SBATCH --gres=gpu:h100:1\n", "#SBATCH --qos=high\n",
        "#SBATCH --constraint=a100\n",
        "\nexec /opt/synpriv/bin/sp_train '/exp/run 1/slurm/config.json' --out '/exp/run 1' --shadow "
        "\"$SLURM_ARRAY_TASK_ID\"\n"});
  EXPECT_TRUE(directives_come_first(s)) << s;

  // Defaults: no optional directive, the logs under DIR/slurm/logs, no concurrency limit.
  SlurmJobs j = sample_jobs();
  j.out_dir = "/exp/run1";
  std::string d = train_array_script(SlurmOptions{}, j);
  EXPECT_NE(d.find("#SBATCH --array=0-3,6\n"), std::string::npos) << d;
  EXPECT_NE(d.find("#SBATCH --output=/exp/run1/slurm/logs/train_%A_%a.out\n"), std::string::npos) << d;
  for (const char* absent : {"--partition", "--account", "--time", "--cpus-per-task", "--mem", "--gres"})
    EXPECT_EQ(d.find(absent), std::string::npos) << absent;

  // The default log directory inherits DIR's spaces, which an #SBATCH line cannot carry.
  EXPECT_ERROR(train_array_script(SlurmOptions{}, sample_jobs()), "log directory '/exp/run 1/slurm/logs'");
  j.shadows.clear();
  EXPECT_ERROR(train_array_script(SlurmOptions{}, j), "no shadow models to train");
  SlurmOptions badp;
  badp.partition = "a b";
  EXPECT_ERROR(train_array_script(badp, sample_jobs()), "--partition");
}

TEST(Slurm, ReportScript) {
  SlurmOptions o;
  o.partition = "cpu";
  o.gres = "gpu:1";
  o.time_limit = "30";
  o.log_dir = "/scratch/logs";
  SlurmJobs j = sample_jobs();
  j.report_args = {"--shadows", "0-6"};
  std::string s = report_script(o, j);
  expect_lines(s, {"#SBATCH --job-name=synpriv-report\n", "#SBATCH --output=/scratch/logs/report_%j.out\n",
                           "#SBATCH --partition=cpu\n", "#SBATCH --time=30\n",
                           "\nexec /opt/synpriv/bin/sp_audit '/exp/run 1/slurm/config.json' --out '/exp/run 1' "
                           "--no-train --shadows 0-6\n"});
  EXPECT_EQ(s.find("--gres"), std::string::npos) << "the report needs no GPU:\n" << s;
  EXPECT_EQ(s.find("--array"), std::string::npos) << s;
  EXPECT_TRUE(directives_come_first(s)) << s;
}

TEST(Slurm, QuotingAndJobIds) {
  EXPECT_EQ(shell_quote("/a/b-c_d.json"), "/a/b-c_d.json");
  EXPECT_EQ(shell_quote("a b"), "'a b'");
  EXPECT_EQ(shell_quote("it's $HOME"), "'it'\\''s $HOME'");
  EXPECT_EQ(shell_quote(""), "''");
  EXPECT_EQ(parse_sbatch_job_id("1234\n"), "1234");
  EXPECT_EQ(parse_sbatch_job_id("77;cluster2\n"), "77");
  EXPECT_ERROR(parse_sbatch_job_id("Submitted batch job 5\n"), "not a job id");
  EXPECT_ERROR(parse_sbatch_job_id(""), "not a job id");
}

TEST(Slurm, RunCaptureSeparatesOutputs) {
  ProcessResult r = run_capture({"sh", "-c", "echo out; echo err >&2; exit 3"});
  EXPECT_TRUE(r.started);
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.out, "out\n");
  EXPECT_EQ(r.err, "err\n");
  // More than a pipe buffer on both streams at once must not deadlock.
  r = run_capture({"sh", "-c", "head -c 200000 /dev/zero; head -c 200000 /dev/zero >&2"});
  EXPECT_EQ(r.out.size(), 200000u);
  EXPECT_EQ(r.err.size(), 200000u);
  r = run_capture({"/nonexistent/program"});
  EXPECT_FALSE(r.started);
  EXPECT_FALSE(r.start_error.empty());
}

TEST(Slurm, PrecisionGoesIntoTheJobsConfiguration) {
  TempDir t;
  fs::create_directories(t / "bin");
  write_executable(t / "bin/sp_train", "#!/bin/sh\n");
  write_executable(t / "squeue", "#!/bin/sh\n");
  sp::test::write_text(t / "cfg.json", tiny_config().dump(2));
  SlurmCliOptions o;
  o.config = t / "cfg.json";
  o.out = t / "exp";
  o.squeue = t / "squeue";
  o.bin_dir = t / "bin";
  o.report_job = false;
  o.dry_run = true;
  o.precision = "bf16";  // sp_train --slurm --precision bf16
  Captured log;
  ASSERT_EQ(run_slurm_submit(o, log.f), 0);
  // bf16 is another experiment: the directory is made as one, and the tasks read it from the jobs' copy.
  RunConfig job = load_config(o.out + "/slurm/config.json");
  EXPECT_EQ(job.precision, Precision::bf16);
  EXPECT_EQ(load_config(o.out + "/config.json").identity(), job.identity());
  EXPECT_NE(job.identity(), load_config(o.config).identity());
}

TEST(Slurm, SubmitWithAStandInSbatch) {
  TempDir t;
  // A stand-in sbatch: records its arguments and prints job ids 100, 101, ... as --parsable does.
  const std::string calls = t / "calls.txt", counter = t / "counter";
  write_executable(t / "sbatch", "#!/bin/sh\nn=$(cat '" + counter + "' 2>/dev/null || echo 100)\necho \"$*\" >> '" +
                                     calls + "'\necho $((n + 1)) > '" + counter + "'\necho \"$n;local\"\n");
  fs::create_directories(t / "bin");
  write_executable(t / "bin/sp_train", "#!/bin/sh\n");
  write_executable(t / "bin/sp_audit", "#!/bin/sh\n");
  nlohmann::json c = tiny_config();
  sp::test::write_text(t / "cfg.json", c.dump(2));

  SlurmCliOptions o;
  o.config = t / "cfg.json";
  o.out = t / "exp";
  o.sbatch = t / "sbatch";
  write_executable(t / "squeue", "#!/bin/sh\n");  // lists no job
  o.squeue = t / "squeue";
  o.bin_dir = t / "bin";
  o.slurm.partition = "debug";
  o.slurm.array_limit = 3;

  // --dry-run: the experiment and the scripts are written, nothing is submitted.
  o.dry_run = true;
  {
    Captured log;
    ASSERT_EQ(run_slurm_submit(o, log.f), 0);
    std::string text = log.text();
    EXPECT_NE(text.find("jid=$(" + o.sbatch + " --parsable " + o.out + "/slurm/train_array.sbatch)"), std::string::npos)
        << text;
    EXPECT_NE(text.find("--dependency=afterany:${jid%%;*} " + o.out + "/slurm/report.sbatch"), std::string::npos) << text;
  }
  EXPECT_FALSE(fs::exists(calls));
  for (const char* f : {"experiment.json", "config.json", "slurm/config.json", "slurm/train_array.sbatch",
                        "slurm/report.sbatch", "slurm/logs"})
    EXPECT_TRUE(fs::exists(o.out + "/" + f)) << f;
  EXPECT_FALSE(fs::exists(o.out + "/slurm/jobs.json"));
  // The jobs' configuration copy is the same experiment (load_config accepts it; identical identity).
  EXPECT_EQ(load_config(o.out + "/slurm/config.json").identity(), load_config(o.config).identity());
  std::string script = sp::test::read_text(o.out + "/slurm/train_array.sbatch");
  EXPECT_NE(script.find("#SBATCH --array=0-3%3\n"), std::string::npos) << script;
  EXPECT_NE(script.find("exec " + o.bin_dir + "/sp_train " + o.out + "/slurm/config.json --out " + o.out), std::string::npos)
      << script;

  // Submitting, with shadow 1 already trained: the array leaves it out, the report depends on the array. A
  // record that is not a finished shadow's (shadow 0's "{}") does not count (paradigms/engine/shadow_metrics.h).
  auto finished = [](int k) {
    return nlohmann::json{{"shadow", k}, {"test_accuracy", 0.5}, {"seconds", {{"train", 1.0}}}}.dump();
  };
  sp::test::write_text(o.out + "/shadow/1/metrics.json", finished(1));
  sp::test::write_text(o.out + "/shadow/0/metrics.json", "{}");
  o.dry_run = false;
  {
    Captured log;
    ASSERT_EQ(run_slurm_submit(o, log.f), 0);
    std::string text = log.text();
    EXPECT_NE(text.find("3 shadow models to train (array 0,2-3%3), 1 already trained"), std::string::npos) << text;
    EXPECT_NE(text.find("squeue -j 100,101"), std::string::npos) << text;
  }
  EXPECT_EQ(sp::test::read_text(calls), "--parsable " + o.out + "/slurm/train_array.sbatch\n--parsable --dependency=afterany:100 " +
                                            o.out + "/slurm/report.sbatch\n");
  nlohmann::json jobs = nlohmann::json::parse(sp::test::read_text(o.out + "/slurm/jobs.json"));
  EXPECT_EQ(jobs["train_array_job"], "100");
  EXPECT_EQ(jobs["report_job"], "101");
  EXPECT_EQ(jobs["shadows"], nlohmann::json({0, 2, 3}));

  // While squeue lists the earlier array (once per task: %F is the array's id), submitting again is refused.
  write_executable(t / "squeue_busy", "#!/bin/sh\necho 100\necho 100\n");
  o.squeue = t / "squeue_busy";
  {
    Captured log;
    EXPECT_ERROR(run_slurm_submit(o, log.f), "jobs 100 of an earlier submission");
  }
  o.squeue = t / "squeue";

  // Every shadow trained: only the report job, without a dependency.
  for (int k : {0, 2, 3}) sp::test::write_text(o.out + "/shadow/" + std::to_string(k) + "/metrics.json", finished(k));
  fs::remove(calls);
  {
    Captured log;
    ASSERT_EQ(run_slurm_submit(o, log.f), 0);
  }
  EXPECT_EQ(sp::test::read_text(calls), "--parsable " + o.out + "/slurm/report.sbatch\n");

  // sbatch refusing: its own message is in the error; missing: the error says so.
  write_executable(t / "refuse", "#!/bin/sh\necho 'sbatch: error: invalid partition specified: debug' >&2\nexit 1\n");
  o.sbatch = t / "refuse";
  fs::remove(o.out + "/shadow/0/metrics.json");
  {
    Captured log;
    EXPECT_ERROR(run_slurm_submit(o, log.f), "invalid partition specified: debug");
  }
  o.sbatch = t / "no-such-sbatch";
  {
    Captured log;
    EXPECT_ERROR(run_slurm_submit(o, log.f), "is SLURM installed");
  }

  // Bad requests fail before anything is written or submitted.
  SlurmCliOptions b = o;
  b.sbatch = t / "sbatch";
  fs::remove(calls);
  b.out = t / "other";
  b.first = 2;
  b.last = 4;
  EXPECT_ERROR(run_slurm_submit(b), "out of range: the configuration has num_shadows = 4");
  b.first = 0;
  b.last = -1;
  b.slurm.partition = "a b";
  EXPECT_ERROR(run_slurm_submit(b), "--partition");
  b.slurm.partition.clear();
  b.bin_dir = t / "nowhere";
  EXPECT_ERROR(run_slurm_submit(b), "sp_train not found");
  EXPECT_FALSE(fs::exists(t / "other"));
  b.bin_dir = o.bin_dir;
  b.out = t / "my exp";  // the default log directory DIR/slurm/logs cannot go into an #SBATCH line
  EXPECT_ERROR(run_slurm_submit(b), "holds whitespace");
  EXPECT_FALSE(fs::exists(t / "my exp"));
  // Another configuration in DIR is refused before anything is queued.
  c["seed"] = 4;
  sp::test::write_text(t / "cfg2.json", c.dump(2));
  b = o;
  b.sbatch = t / "sbatch";
  b.config = t / "cfg2.json";
  EXPECT_ERROR(run_slurm_submit(b), "different configuration");
  EXPECT_FALSE(fs::exists(calls));
}

TEST(Slurm, SpAuditDryRun) {
  const std::string bin = std::string(SP_BINARY_DIR) + "/bin/";
  if (!fs::exists(bin + "sp_audit") || !fs::exists(bin + "sp_train")) GTEST_SKIP() << "sp_audit/sp_train not built";
  TempDir t;
  nlohmann::json c = tiny_config();
  sp::test::write_text(t / "cfg.json", c.dump(2));
  const std::string dir = t / "exp", head = bin + "sp_audit " + t / "cfg.json" + " --out " + dir;
  auto r = sp::test::run_command(head + " --shadows 0-2 --slurm --dry-run --time 01:00:00 --mem 4G --device cpu");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("--dependency=afterany:${jid%%;*} " + dir + "/slurm/report.sbatch"), std::string::npos)
      << r.output;
  expect_lines(sp::test::read_text(dir + "/slurm/train_array.sbatch"),
               {"#SBATCH --array=0-2\n", "#SBATCH --time=01:00:00\n", "#SBATCH --mem=4G\n",
                "exec " + bin + "sp_train " + dir + "/slurm/config.json --out " + dir +
                    " --shadow \"$SLURM_ARRAY_TASK_ID\" --device cpu\n"});
  expect_lines(sp::test::read_text(dir + "/slurm/report.sbatch"),
               {"exec " + bin + "sp_audit " + dir + "/slurm/config.json --out " + dir + " --no-train --shadows 0-2\n"});

  r = sp::test::run_command(head + " --slurm --no-train");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("--no-train and --gpus do not apply"), std::string::npos) << r.output;
  r = sp::test::run_command(head + " --dry-run");
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("--dry-run requires --slurm"), std::string::npos) << r.output;
}
