// Process faults of sp_audit and sp_train (issue 22), end to end on tiny shapes10 experiments: a SIGKILLed
// sp_audit leaves no sp_train worker alive and no shadow locked; two audits started together on
// one directory both finish with every result; an audit started while a live (stopped) sp_train holds a
// shadow's lock waits for it and takes the shadow over from its checkpoint once that process is killed;
// temporaries of dead processes are removed by the next run and a live process's are kept; a corrupt
// labels.npy or logits.npy ends with the partial-results status and a message naming the file; --status
// explains an invalid metrics.json and the next run trains that shadow again; usage errors end with status 1.
// Also the helpers underneath (data/file_util.h: temporary names, process liveness, lock
// holders, stale temporaries; paradigms/audit/subprocess.h: a spawned worker's log, environment and start
// errors).
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "data/file_util.h"
#include "paradigms/audit/subprocess.h"
#include "tests/lira_test_util.h"
#include "tests/process_test_util.h"

using sp::test::TempDir;
namespace fs = std::filesystem;

namespace {

const std::string kAudit = std::string(SP_BINARY_DIR) + "/bin/sp_audit";
const std::string kTrain = std::string(SP_BINARY_DIR) + "/bin/sp_train";
const std::string kLira = std::string(SP_BINARY_DIR) + "/bin/sp_lira";

#define REQUIRE_BINARIES()                                                                         \
  do {                                                                                             \
    if (!fs::exists(kAudit) || !fs::exists(kTrain)) GTEST_SKIP() << "sp_audit/sp_train not built"; \
  } while (0)

// Seconds per shadow even on a loaded machine; six shadows give every attack two IN and two OUT models per
// leave-one-out fold.
std::string tiny_config(int shadows, int epochs) {
  nlohmann::json j = {
      {"seed", 7},
      {"num_shadows", shadows},
      {"dataset", {{"name", "shapes10"}, {"seed", 2}, {"train", 96}, {"test", 40}}},
      {"model", {{"name", "resnet18"}, {"width", 2}}},
      {"recipe",
       {{"epochs", epochs},
        {"batch_size", 32},
        {"optimizer", {{"name", "adam"}, {"lr", 0.003}}},
        {"augmentation", {{"crop_pad", 0}, {"flip", true}}}}},
      {"audit", {{"num_audit", 12}}},
      {"device", {{"eval_batch", 216}}}};
  return j.dump(2);
}

std::string write_config(const TempDir& t, const std::string& text) {
  sp::test::write_text(t / "tiny.json", text);
  return t / "tiny.json";
}

sp::test::CommandResult run(const std::string& cmd) { return sp::test::run_command(cmd); }

void expect_contains(const std::string& text, const std::string& needle) {
  EXPECT_NE(text.find(needle), std::string::npos) << "missing '" << needle << "' in:\n" << text;
}

nlohmann::json read_json(const std::string& path) { return nlohmann::json::parse(sp::test::read_text(path)); }

std::vector<int> all_shadows(int n) {
  std::vector<int> v;
  for (int k = 0; k < n; ++k) v.push_back(k);
  return v;
}

// The pid of a process that has ended and been reaped (kept unused for the test's seconds: pids are handed
// out in increasing order until they wrap around).
pid_t dead_pid() {
  pid_t pid = sp::test::start_logged({"/bin/true"}, "/dev/null");
  EXPECT_EQ(sp::test::wait_exit(pid, 10), 0);
  return pid;
}

}  // namespace

TEST(ProcessFaults, TemporaryNamesAndProcessLiveness) {
  using sp::data::temporary_owner_pid;
  EXPECT_EQ(temporary_owner_pid("metrics.json.tmp.123.0"), 123);         // data/atomic_file.h
  EXPECT_EQ(temporary_owner_pid("logits.npy.tmp.4567.12"), 4567);        // data/npy.h
  EXPECT_EQ(temporary_owner_pid("checkpoint.safetensors.tmp.77"), 77);   // nn/safetensors.h
  EXPECT_EQ(temporary_owner_pid(".cifar10-jpeg.tmp.55.aB3xYz"), 55);     // make_sibling_temp_dir
  EXPECT_EQ(temporary_owner_pid("model.safetensors"), 0);
  EXPECT_EQ(temporary_owner_pid("notes.tmp"), 0);
  EXPECT_EQ(temporary_owner_pid("a.tmp.12x"), 0);
  EXPECT_EQ(temporary_owner_pid("a.tmp.12.abcdef"), 0);  // a folder's random suffix only on hidden folders
  EXPECT_EQ(temporary_owner_pid(".tmp.5"), 0);

  EXPECT_TRUE(sp::data::process_alive(getpid()));
  EXPECT_FALSE(sp::data::process_alive(dead_pid()));
  EXPECT_FALSE(sp::data::process_alive(0));
  // A zombie (ended, not yet reaped) is gone for this purpose.
  pid_t zombie = sp::test::start_logged({"/bin/true"}, "/dev/null");
  ASSERT_TRUE(sp::test::wait_until([&] { return sp::test::process_state(zombie) == 'Z'; }, 10));
  EXPECT_FALSE(sp::data::process_alive(zombie));
  EXPECT_EQ(sp::test::wait_exit(zombie, 10), 0);
}

TEST(ProcessFaults, StaleTemporariesOfDeadProcessesAreRemoved) {
  TempDir t;
  const std::string dead = std::to_string(dead_pid()), live = std::to_string(getpid());
  fs::create_directories(t / "shadow/1");
  fs::create_directories(t / (".data.tmp." + dead + ".Ab12Cd/train"));
  for (const std::string& f : std::vector<std::string>{
           "summary.json.tmp." + dead + ".0", "shadow/1/checkpoint.safetensors.tmp." + dead, "lira.tmp." + live + ".3",
           "summary.json", "shadow/1/logits.npy", ".data.tmp." + dead + ".Ab12Cd/train/x.png"})
    sp::test::write_text(t / f, "x");

  auto removed = sp::data::remove_stale_temporaries(t.path(), false);
  ASSERT_EQ(removed.size(), 2u);  // not below shadow/
  EXPECT_FALSE(fs::exists(t / ("summary.json.tmp." + dead + ".0")));
  EXPECT_FALSE(fs::exists(t / (".data.tmp." + dead + ".Ab12Cd")));
  EXPECT_TRUE(fs::exists(t / ("shadow/1/checkpoint.safetensors.tmp." + dead)));
  removed = sp::data::remove_stale_temporaries(t.path(), true);
  ASSERT_EQ(removed.size(), 1u);
  EXPECT_EQ(removed[0].path, t / ("shadow/1/checkpoint.safetensors.tmp." + dead));
  EXPECT_EQ(std::to_string(removed[0].pid), dead);
  for (const std::string& f : std::vector<std::string>{"lira.tmp." + live + ".3", "summary.json", "shadow/1/logits.npy"})
    EXPECT_TRUE(fs::exists(t / f)) << f;

  // A temporary folder for an extraction: named with the pid, and a dead process's beside it removed.
  fs::create_directories(t / (".set.tmp." + dead + ".Zz9911"));
  std::string fresh = sp::data::make_sibling_temp_dir(t / "set");
  EXPECT_FALSE(fs::exists(t / (".set.tmp." + dead + ".Zz9911")));
  EXPECT_EQ(sp::data::temporary_owner_pid(fs::path(fresh).filename().string()), getpid()) << fresh;
}

TEST(ProcessFaults, ALockSaysWhoHoldsIt) {
  TempDir t;
  const std::string path = t / ".lock";
  {
    sp::data::FileLock lock(path);
    sp::data::LockHolder h = sp::data::FileLock::holder(path);
    EXPECT_EQ(h.pid, getpid());
    EXPECT_EQ(h.str(), "pid " + std::to_string(getpid()));
  }
  EXPECT_EQ(sp::test::read_text(path), "") << "emptied at release";
  EXPECT_EQ(sp::data::FileLock::holder(path).str(), "another process");
  // A holder killed with SIGKILL leaves its line: a dead pid on this host names nobody.
  sp::test::write_text(path, std::to_string(dead_pid()) + "\n");
  EXPECT_EQ(sp::data::FileLock::holder(path).pid, 0);
  // Another host's pid cannot be checked from here.
  sp::test::write_text(path, "123 node-elsewhere-7\n");
  EXPECT_EQ(sp::data::FileLock::holder(path).str(), "pid 123 on node-elsewhere-7");
}

TEST(ProcessFaults, SpawnedWorkerGetsItsLogEnvironmentAndStartErrors) {
  TempDir t;
  const std::string log = t / "w.log";
  int pid = sp::audit::spawn_dying_with_parent({"/bin/sh", "-c", "echo out $SP_TEST_VALUE; echo err >&2; exit 3"},
                                               {"SP_TEST_VALUE=42"}, log);
  EXPECT_EQ(sp::test::wait_exit(pid, 10), 3);
  EXPECT_EQ(sp::test::read_text(log), "out 42\nerr\n");
  try {
    sp::audit::spawn_dying_with_parent({"/nonexistent/sp_train"}, {}, log);
    ADD_FAILURE() << "no error";
  } catch (const std::exception& e) {
    expect_contains(e.what(), "cannot start worker '/nonexistent/sp_train'");
    expect_contains(e.what(), "No such file");
  }
}

TEST(ProcessFaults, KilledAuditLeavesNoWorkerBehind) {
  REQUIRE_BINARIES();
  TempDir t;
  // Shadows of a minute or more: a worker that outlived its parent would still be running at the check.
  const std::string cfg = write_config(t, tiny_config(4, 1000)), dir = t / "exp";
  pid_t audit = sp::test::start_logged({kAudit, cfg, "--out", dir, "--workers", "2", "--bootstrap", "20"}, t / "audit.log");
  ASSERT_GT(audit, 0);
  // Both workers started (exec'd: a fork not yet past exec still shows sp_audit's command line).
  std::vector<pid_t> workers;
  bool started = sp::test::wait_until(
      [&] {
        workers.clear();
        for (pid_t c : sp::test::children_of(audit))
          if (sp::test::command_line(c).find("sp_train") != std::string::npos) workers.push_back(c);
        return workers.size() == 2;
      },
      120);
  ::kill(audit, SIGKILL);
  EXPECT_EQ(sp::test::wait_exit(audit, 30), 128 + SIGKILL);
  ASSERT_TRUE(started) << sp::test::read_text(t / "audit.log");
  bool gone = sp::test::wait_until(
      [&] {
        for (pid_t w : workers)
          if (!sp::test::process_gone(w)) return false;
        return true;
      },
      5);
  EXPECT_TRUE(gone) << "sp_train workers outlived the killed sp_audit";
  for (pid_t w : workers)
    if (!sp::test::process_gone(w)) ::kill(w, SIGKILL);  // not left running after a failure
  // Nothing holds a shadow any more: a rerun would train them all instead of finding them running.
  auto r = run(kAudit + " --status " + dir);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  expect_contains(r.output, "running  none");
}

TEST(ProcessFaults, ConcurrentAuditsOnOneDirectoryBothFinish) {
  REQUIRE_BINARIES();
  TempDir t;
  const std::string cfg = write_config(t, tiny_config(6, 1)), dir = t / "exp";
  std::vector<pid_t> audits;
  for (const char* log : {"a.log", "b.log"})
    audits.push_back(sp::test::start_logged({kAudit, cfg, "--out", dir, "--workers", "2", "--bootstrap", "20",
                                             "--log-every", "1"},
                                            t / log));
  int a = sp::test::wait_exit(audits[0], 300), b = sp::test::wait_exit(audits[1], 300);
  const std::string logs = sp::test::read_text(t / "a.log") + "\n----\n" + sp::test::read_text(t / "b.log");
  EXPECT_EQ(a, 0) << logs;
  EXPECT_EQ(b, 0) << logs;
  nlohmann::json s = read_json(dir + "/summary.json");
  EXPECT_EQ(s["shadows"]["done"], nlohmann::json(all_shadows(6)));
  EXPECT_TRUE(s["privacy"].contains("online")) << s["privacy"];
  for (int k = 0; k < 6; ++k) EXPECT_FALSE(fs::exists(dir + "/shadow/" + std::to_string(k) + "/failed.json")) << k;
}

TEST(ProcessFaults, AuditWaitsForALiveHolderAndTakesOverWhenItDies) {
  REQUIRE_BINARIES();
  TempDir t;
  const std::string cfg = write_config(t, tiny_config(4, 3)), dir = t / "exp";
  // A stray trainer of shadow 1, stopped in the middle: alive, holding the lock, making no progress.
  pid_t holder = sp::test::start_logged(
      {kTrain, cfg, "--out", dir, "--shadow", "1", "--device", "cpu", "--checkpoint-every", "0"}, t / "holder.log");
  ASSERT_GT(holder, 0);
  bool checkpointed = sp::test::wait_until([&] { return fs::exists(dir + "/shadow/1/checkpoint.safetensors"); }, 120);
  ::kill(holder, SIGSTOP);
  ASSERT_TRUE(checkpointed) << sp::test::read_text(t / "holder.log");

  // sp_train --no-wait leaves it to the holder: partial.
  auto r = run(kTrain + " " + cfg + " --out " + dir + " --shadows 1-1 --device cpu --no-wait");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  expect_contains(r.output, "shadow 1: being trained by pid " + std::to_string(holder));
  r = run(kAudit + " --status " + dir);
  expect_contains(r.output, "shadow   1  running  trained by pid " + std::to_string(holder));

  pid_t audit = sp::test::start_logged({kAudit, cfg, "--out", dir, "--workers", "2", "--bootstrap", "20"},
                                       t / "audit.log");
  const std::string waiting = "shadow 1: being trained by pid " + std::to_string(holder) + ", waiting";
  bool waited = sp::test::wait_until(
      [&] { return sp::test::read_text(t / "audit.log").find(waiting) != std::string::npos; }, 120);
  // The others are trained meanwhile; then the holder dies as an orphan would with kill -9.
  ::kill(holder, SIGKILL);
  EXPECT_EQ(sp::test::wait_exit(holder, 30), 128 + SIGKILL);
  int code = sp::test::wait_exit(audit, 300);
  const std::string out = sp::test::read_text(t / "audit.log");
  EXPECT_TRUE(waited) << out;
  EXPECT_EQ(code, 0) << out;
  expect_contains(out, "shadow 1: lock released; started on");
  expect_contains(sp::test::read_text(dir + "/shadow/1/train.log"), "shadow 1: resuming from its checkpoint");
  EXPECT_EQ(read_json(dir + "/summary.json")["shadows"]["done"], nlohmann::json(all_shadows(4)));
}

TEST(ProcessFaults, StaleTemporariesGoAndCorruptInputsArePartial) {
  REQUIRE_BINARIES();
  TempDir t;
  const std::string cfg = write_config(t, tiny_config(4, 1)), dir = t / "exp";
  const std::string audit = kAudit + " " + cfg + " --out " + dir + " --workers 2 --bootstrap 20";
  auto r = run(audit);
  ASSERT_EQ(r.exit_code, 0) << r.output;

  // Temporaries as writers killed before their rename leave them, and one of a live process (this one).
  const std::string dead = std::to_string(dead_pid()), live = std::to_string(getpid());
  const std::vector<std::string> stale = {"summary.json.tmp." + dead + ".0",
                                          "shadow/1/checkpoint.safetensors.tmp." + dead,
                                          "shadow/2/logits.npy.tmp." + dead + ".5"};
  const std::string alive = "lira/results.json.tmp." + live + ".1";
  for (const std::string& f : stale) sp::test::write_text(dir + "/" + f, "partial");
  sp::test::write_text(dir + "/" + alive, "partial");
  r = run(audit);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  for (const std::string& f : stale) {
    EXPECT_FALSE(fs::exists(dir + "/" + f)) << f;
    expect_contains(r.output, "removed the stale temporary " + dir + "/" + f + " (process " + dead + " is gone)");
  }
  EXPECT_TRUE(fs::exists(dir + "/" + alive));
  // sp_train too, on its own.
  sp::test::write_text(dir + "/shadow/0/model.safetensors.tmp." + dead, "partial");
  r = run(kTrain + " " + cfg + " --out " + dir + " --shadow 0 --device cpu");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  expect_contains(r.output, "removed the stale temporary " + dir + "/shadow/0/model.safetensors.tmp." + dead);

  // Unreadable attack inputs: the report is written, the status says it is incomplete, the file is named.
  for (const std::string rel : {"audit/labels.npy", "shadow/2/logits.npy"}) {
    SCOPED_TRACE(rel);
    const std::string path = dir + "/" + rel, good = sp::test::read_text(path);
    sp::test::write_text(path, good.substr(0, good.size() / 2));
    r = run(audit);
    EXPECT_EQ(r.exit_code, 2) << r.output;
    expect_contains(r.output, "ATTACKS FAILED: " + path);
    expect_contains(r.output, "INCOMPLETE");
    EXPECT_TRUE(read_json(dir + "/summary.json").contains("attack_error"));
    r = run(kAudit + " " + cfg + " --out " + dir + " --no-train --bootstrap 20");
    EXPECT_EQ(r.exit_code, 2) << r.output;
    sp::test::write_text(path, good);
  }

  // A metrics.json without "seconds" (a hand edit): --status says the shadow is not done and why, and the
  // next run trains it again.
  nlohmann::json m = read_json(dir + "/shadow/3/metrics.json");
  m.erase("seconds");
  sp::test::write_text(dir + "/shadow/3/metrics.json", m.dump());
  r = run(kAudit + " --status " + dir);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  expect_contains(r.output, "missing  3");
  expect_contains(r.output, "shadow   3  missing  " + dir + "/shadow/3/metrics.json is invalid (seconds is missing");
  r = run(audit);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(read_json(dir + "/shadow/3/metrics.json").contains("seconds"));
}

TEST(ProcessFaults, UsageErrorsEndWithStatusOne) {
  REQUIRE_BINARIES();
  for (const std::string& cmd : {kAudit + " --no-such-option", kAudit + " --workers -3", kTrain + " --shadow",
                                 kLira, kLira + " a b"}) {
    auto r = run(cmd);
    EXPECT_EQ(r.exit_code, 1) << cmd << "\n" << r.output;
    EXPECT_FALSE(r.output.empty()) << cmd;
  }
  for (const std::string& tool : {kAudit, kTrain, kLira}) EXPECT_EQ(run(tool + " --help").exit_code, 0) << tool;
}
