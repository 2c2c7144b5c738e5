// The sp_audit pipeline (see audit_pipeline.h).
#include "paradigms/audit/audit_pipeline.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "attacks/lira_run.h"
#include "data/atomic_file.h"
#include "data/file_util.h"
#include "data/npy.h"
#include "data/sample_grid.h"
#include "paradigms/audit/audit_report.h"
#include "paradigms/audit/worker_pool.h"
#include "paradigms/cli_args.h"
#include "paradigms/json_fields.h"
#include "paradigms/paradigm.h"
#include "paradigms/engine/shadow_train.h"
#include "plot/write_figure.h"
#include "paradigms/audit/exit_status.h"

namespace fs = std::filesystem;

namespace sp::audit {

namespace {

using Clock = std::chrono::steady_clock;

void say(const std::string& s) {
  std::printf("%s\n", s.c_str());
  std::fflush(stdout);
}

// While alive, everything written to stdout goes to stderr, so `--json` leaves only the JSON on stdout.
class StdoutToStderr {
 public:
  explicit StdoutToStderr(bool on) {
    if (!on) return;
    std::fflush(stdout);
    saved_ = dup(1);
    if (saved_ >= 0) dup2(2, 1);
  }
  ~StdoutToStderr() { restore(); }
  void restore() {
    if (saved_ < 0) return;
    std::fflush(stdout);
    dup2(saved_, 1);
    close(saved_);
    saved_ = -1;
  }

 private:
  int saved_ = -1;
};

std::string sibling_tool(const std::string& self, const std::string& name) {
  std::error_code ec;
  fs::path exe = self.empty() ? fs::read_symlink("/proc/self/exe", ec) : fs::path(self);
  fs::path p = exe.parent_path() / name;
  SP_CHECK(fs::exists(p), "cannot find ", name, " next to sp_audit (looked for ", p.string(), ")");
  return p.string();
}

nlohmann::json read_json(const std::string& path) {
  cfg::Errors errors;
  nlohmann::json j = cfg::parse_json_file(path, errors);
  errors.throw_if_any(path);
  return j;
}

// Training in this process, one shadow after the other; a failing shadow is recorded and the rest go on.
void train_in_process(const RunConfig& cfg, const AuditOptions& o, const std::vector<int>& todo) {
  Stream& s = pick_device(o.device);
  apply_precision(s, cfg.resolved_precision(s));
  s.deterministic = cfg.deterministic;
  ExperimentRun run = open_experiment_run(cfg, o.dir, s);
  paradigm_of(cfg).check_experiment(run);
  say("  " + std::to_string(run.data.train.size()) + " training / " + std::to_string(run.data.test.size()) +
      " test images, " + std::to_string(run.exp.audit.size()) + " audit samples; training " +
      std::to_string(todo.size()) + " shadow models on " + s.device().str());
  ProgressPrinter progress(ProgressPrinter::stderr_is_terminal(), o.log_every);
  ShadowOptions opt;
  opt.progress = &progress;
  opt.checkpoint_interval_s = o.checkpoint_every;
  auto train = [&](int k) {
    clear_failed(o.dir, k);
    try {
      return train_shadow(run, k, s, paradigm_of(cfg), opt).busy;
    } catch (const std::exception& e) {
      progress.clear();
      mark_failed(o.dir, k, e.what());
      say("shadow " + std::to_string(k) + ": FAILED: " + e.what());
      return false;
    }
  };
  std::vector<int> busy;
  for (int k : todo)
    if (train(k)) busy.push_back(k);
  // Shadows another process holds: after the others, waiting for their lock (taken over if the holder dies).
  opt.wait_if_busy = true;
  for (int k : busy) train(k);
}

// CPU worker processes: as asked, or by default (cpu_workers < 0) one single-threaded worker per core when
// training on the CPU, at most 8 and at most one per shadow. Separate single-threaded processes keep every
// core busy without the per-op synchronisation of a shared thread pool (on the loaded 2-core development
// box one epoch of 1,000 images took 6.5 s wall in one thread against 8.4 s with two; docs/benchmarks.md).
int workers_for(const AuditOptions& o, size_t todo) {
  if (!o.gpus.empty()) return 0;
  if (o.cpu_workers >= 0) return o.cpu_workers;
  std::string why;
  bool on_cpu = o.device == "cpu" || (o.device == "auto" && !cuda_available(&why));
  int cores = std::max(1, int(std::thread::hardware_concurrency()));
  return on_cpu && todo > 1 ? std::min<int>({cores, 8, int(todo)}) : 0;
}

void train_in_workers(const RunConfig& cfg, const AuditOptions& o, const std::vector<int>& todo) {
  {
    // The experiment directory (audit set, membership, config.json) is made once here, not by racing workers.
    ExperimentRun run = open_experiment_run(cfg, o.dir, Stream::cpu());
    paradigm_of(cfg).check_experiment(run);
  }
  std::vector<WorkerSlot> slots = worker_slots(o.gpus, o.models_per_gpu, workers_for(o, todo.size()),
                                               int(std::thread::hardware_concurrency()));
  for (int k : todo) clear_failed(o.dir, k);
  say("  training " + std::to_string(todo.size()) + " shadow models in " + std::to_string(slots.size()) +
      " worker processes");
  for (WorkerSlot& w : slots) w.args.insert(w.args.end(), {"--checkpoint-every", std::to_string(o.checkpoint_every)});
  run_worker_pool(sibling_tool(o.self_path, "sp_train"), o.dir + "/config.json", o.dir, todo, slots, o.log_every, say);
}

// The attacks over the finished shadows; returns results.json, or null with *error saying why not
// (*failed: an error, such as an unreadable file, rather than fewer than 2 finished shadows). With few
// finished shadows the attacks that fit IN and OUT Gaussians per sample cannot run (too few models per
// leave-one-out fold); then the others run alone and *note says what was left out.
nlohmann::json run_attacks(const std::string& dir, const std::string& groups, const std::vector<int>& done, int total,
                           int bootstrap, bool equalize_folds, std::string* error, bool* failed, std::string* note) {
  using lira::Attack;
  *failed = false;
  if (done.size() < 2) {
    *error = "only " + std::to_string(done.size()) + " finished shadow model(s); LiRA needs at least 2";
    return nullptr;
  }
  lira::LiraConfig lc;
  lc.dir = dir;
  lc.bootstrap = bootstrap;
  lc.attack.equalize_folds = equalize_folds;
  if (int(done.size()) < total) lc.models.assign(done.begin(), done.end());
  // Paradigms that split the audit samples per model (coreset: IN and selected / IN but not selected) leave an
  // [S, M] group file; leakage is then reported per group too.
  lc.groups = groups;
  const std::vector<std::vector<Attack>> tries = {
      {std::begin(lira::kAllAttacks), std::end(lira::kAllAttacks)},
      {Attack::online_global_variance, Attack::offline, Attack::global_threshold},
      {Attack::offline, Attack::global_threshold},
      {Attack::global_threshold}};
  std::string first_error;
  for (const auto& attacks : tries) {
    lc.attacks = attacks;
    try {
      lira::run_lira(lc);
      if (!first_error.empty()) {
        std::string left;
        for (Attack a : tries[0])
          if (std::find(attacks.begin(), attacks.end(), a) == attacks.end())
            left += (left.empty() ? "" : ", ") + std::string(lira::attack_name(a));
        *note = "not run with " + std::to_string(done.size()) + " finished shadow models: " + left + " (" +
                first_error + ")";
      }
      return read_json(dir + "/lira/results.json");
    } catch (const std::exception& e) {
      if (first_error.empty()) first_error = e.what();
    }
  }
  *error = first_error;
  *failed = true;
  return nullptr;
}

// Grids of the data a model trains on that differs from the plain dataset: the canaries (with their
// training labels) and whatever the paradigm chose or made (shadow 0's selected or synthetic images).
std::vector<ReportImage> write_data_images(const RunConfig& cfg, const std::string& dir) {
  std::vector<ReportImage> images;
  fs::create_directories(dir + "/images");
  const std::string canaries = "images/canaries.png";
  if (!fs::exists(dir + "/" + canaries)) {
    data::DatasetSplits d = load_run_dataset(cfg);
    data::Experiment exp = data::open_experiment(dir);
    data::Dataset c = data::subset(d.train, exp.audit.indices, "canaries");
    c.labels = Tensor::from_vector(exp.audit.labels, {int64_t(exp.audit.labels.size())});
    data::save_sample_grid(dir + "/" + canaries, c, 8, 2);
  }
  images.push_back({canaries, std::string("Audit samples as the models see them (") + data::canary_name(cfg.canary) +
                                  " canaries): row k holds canaries with training label k"});
  for (const ReportImage& i : paradigm_of(cfg).report_images(cfg, dir)) images.push_back(i);
  return images;
}

void write_summary_files(const std::string& dir, const ojson& summary) {
  write_file_atomic(dir + "/summary.json", summary.dump(2) + "\n");
  write_file_atomic(dir + "/summary.csv", summary_csv({summary}));
}

}  // namespace

int run_audit(const AuditOptions& o) {
  auto t0 = Clock::now();
  StdoutToStderr redirect(o.json);
  RunConfig cfg = load_config(o.config_path);
  if (!o.data_path.empty()) {
    SP_CHECK(cfg.dataset.kind != "shapes10", "--data: dataset shapes10 is generated and has no path");
    cfg.dataset.path = o.data_path;
    cfg.resolved["dataset"]["path"] = o.data_path;
  }
  const int last = o.last < 0 ? cfg.num_shadows - 1 : o.last;
  SP_CHECK(o.first >= 0 && o.first <= last && last < cfg.num_shadows, "--shadows ", o.first, "-", last,
           ": out of range; the configuration has num_shadows = ", cfg.num_shadows, " (indices 0-",
           cfg.num_shadows - 1, ")");
  SP_CHECK(o.gpus.empty() || o.cpu_workers <= 0, "--gpus and --workers exclude each other");
  SP_CHECK(o.models_per_gpu == 1 || !o.gpus.empty(), "--models-per-gpu needs --gpus (the GPUs to share)");
  check_gpu_slots(o.gpus, o.models_per_gpu);
  check_run_dir(o.dir, cfg);
  say("sp_audit: " + o.config_path + " -> " + o.dir + "\n  " + setting_label(cfg.resolved) + ", " + cfg.dataset.str() +
      ", " + cfg.model.name + " width " + std::to_string(cfg.model.width) + ", " + std::to_string(cfg.num_shadows) +
      " shadow models x " + std::to_string(cfg.recipe.epochs) + " epochs, query views " +
      data::query_views_name(cfg.query_views) + " (" + std::to_string(data::num_query_views(cfg.query_views)) +
      " per image)");
  for (const data::RemovedTemporary& t : data::remove_stale_temporaries(o.dir, true))
    say("  removed the stale temporary " + t.path + " (process " + std::to_string(t.pid) + " is gone)");

  std::vector<int> todo;
  if (o.train) {
    std::vector<ShadowEntry> before = fs::exists(o.dir) ? scan_shadows(o.dir, cfg.num_shadows) : std::vector<ShadowEntry>{};
    for (int k = o.first; k <= last; ++k)
      if (before.empty() || before[size_t(k)].state != ShadowState::done) todo.push_back(k);
    if (todo.empty())
      say("  every requested shadow model is already trained");
    else if (!o.gpus.empty() || workers_for(o, todo.size()) > 0)
      train_in_workers(cfg, o, todo);
    else
      train_in_process(cfg, o, todo);
  }
  SP_CHECK(fs::exists(o.dir + "/experiment.json"), o.dir, ": no experiment here yet (run without --no-train first)");

  const Paradigm& paradigm = paradigm_of(cfg);
  for (const std::string& line : paradigm.finish_experiment(o.dir, cfg)) say("  " + line);
  auto t_attack = Clock::now();
  std::vector<ShadowEntry> shadows = scan_shadows(o.dir, cfg.num_shadows);
  std::vector<int> done = shadows_in_state(shadows, ShadowState::done);
  say("attacking " + std::to_string(done.size()) + " finished shadow models with LiRA...");
  std::string attack_error, attack_note;
  bool attacks_failed = false;
  nlohmann::json lira = run_attacks(o.dir, paradigm.lira_groups(o.dir), done, cfg.num_shadows, o.bootstrap,
                                    o.equalize_folds, &attack_error, &attacks_failed, &attack_note);
  if (!attack_error.empty()) say(std::string("  ") + (attacks_failed ? "ATTACKS FAILED" : "attacks not run") + ": " + attack_error);
  if (!attack_note.empty()) say("  attacks " + attack_note);
  double attack_s = std::chrono::duration<double>(Clock::now() - t_attack).count();

  std::vector<ReportImage> images = write_data_images(cfg, o.dir);
  ojson summary = build_summary(o.dir, cfg.resolved, shadows, lira, attack_error);
  if (!attack_note.empty()) summary["attack_note"] = "attacks " + attack_note;
  if (!lira.is_null() && !o.equalize_folds && done.size() <= 16)
    summary["attack_caveat"] = "with " + std::to_string(done.size()) +
                               " models, leave-one-out fits member and non-member targets on different numbers of "
                               "IN/OUT models, which by itself shifts the online and offline scores (online AUC can "
                               "fall below 0.5); rerun with --no-train --equalize-folds to remove that bias";
  write_summary_files(o.dir, summary);
  write_experiment_report(o.dir, summary, images);
  say("\n" + summary_table({summary}));
  std::vector<int> incomplete;
  for (int k = o.first; k <= last; ++k)
    if (shadows[size_t(k)].state != ShadowState::done) incomplete.push_back(k);
  std::vector<int> failed = shadows_in_state(shadows, ShadowState::failed);
  if (!failed.empty()) say("FAILED shadow models: " + format_index_list(failed) + " (see their failed.json and train.log)");
  if (!incomplete.empty())
    say("INCOMPLETE: requested shadow models not finished: " + format_index_list(incomplete));
  if (attacks_failed) say("INCOMPLETE: the attacks failed: " + attack_error);
  char line[200];
  std::snprintf(line, sizeof line, "attacks %.1f s; total %s. Reports: %s/report.md, %s/report.html, summary.csv",
                attack_s, format_duration(std::chrono::duration<double>(Clock::now() - t0).count()).c_str(),
                o.dir.c_str(), o.dir.c_str());
  say(line);
  redirect.restore();
  if (o.json) std::printf("%s\n", summary.dump(2).c_str());
  return incomplete.empty() && !attacks_failed ? kExitOk : kExitPartial;
}

int print_status(const std::string& dir, bool json) {
  const std::string cpath = dir + "/config.json";
  SP_CHECK(fs::exists(cpath), dir, ": not an sp_audit/sp_train experiment directory (no config.json)");
  RunConfig cfg = load_stored_config(cpath);
  std::vector<ShadowEntry> shadows = scan_shadows(dir, cfg.num_shadows);
  nlohmann::json lira = fs::exists(dir + "/lira/results.json") ? read_json(dir + "/lira/results.json") : nlohmann::json();
  ojson summary = build_summary(dir, cfg.resolved, shadows, lira, lira.is_null() ? "not run yet" : "");
  if (json) {
    std::printf("%s\n", summary.dump(2).c_str());
    return 0;
  }
  std::printf("%s: %s, %d shadow models\n", dir.c_str(), setting_label(cfg.resolved).c_str(), cfg.num_shadows);
  for (ShadowState st : {ShadowState::done, ShadowState::running, ShadowState::failed, ShadowState::missing})
    std::printf("  %-8s %s\n", state_name(st), format_index_list(shadows_in_state(shadows, st)).c_str());
  for (const ShadowEntry& e : shadows) {
    if (e.state == ShadowState::done)
      std::printf("  shadow %3d  done     test acc %6.2f%%  %s\n", e.k, 100 * e.metrics.value("test_accuracy", 0.0),
                  format_duration(e.metrics["seconds"].value("train", 0.0)).c_str());
    else if (e.state == ShadowState::failed)
      std::printf("  shadow %3d  FAILED   %s\n", e.k, e.error.c_str());
    else if (e.state == ShadowState::running)
      std::printf("  shadow %3d  running  trained by %s%s\n", e.k, e.holder.c_str(),
                  e.has_checkpoint ? " (has a checkpoint)" : "");
    else if (e.has_checkpoint || !e.error.empty())
      // A missing shadow with an invalid metrics.json says why it is not done (the next run trains it again).
      std::printf("  shadow %3d  %-8s %s%s%s\n", e.k, state_name(e.state), e.error.c_str(),
                  e.error.empty() || !e.has_checkpoint ? "" : "; ",
                  e.has_checkpoint ? "(has a checkpoint: resumes from it)" : "");
  }
  std::printf("\nresults so far%s:\n%s", lira.is_null() ? " (attacks not run yet)" : " (lira/results.json)",
              summary_table({summary}).c_str());
  return 0;
}

int run_compare(const std::vector<std::string>& dirs, const std::string& out, bool json) {
  SP_CHECK(!dirs.empty(), "--compare: no experiment directories given");
  SP_CHECK(!out.empty(), "--compare needs --out DIR for the combined report");
  std::vector<ojson> summaries;
  for (const std::string& d : dirs) summaries.push_back(read_summary(d));
  write_compare_report(out, summaries);
  if (json) {
    ojson a = ojson::array();
    for (const ojson& s : summaries) a.push_back(s);
    std::printf("%s\n", a.dump(2).c_str());
  } else {
    const std::string plots = plot::plots_available() ? out + "/tradeoff.png, " + out + "/tradeoff.svg, " : "";
    std::printf("%s\nwrote %s/report.md, %s/report.html, %s%s/summary.csv\n", summary_table(summaries).c_str(),
                out.c_str(), out.c_str(), plots.c_str(), out.c_str());
  }
  return 0;
}

}  // namespace sp::audit
