// sp_audit: the whole evaluation in one command (issue 6).
//   sp_audit CONFIG --out DIR [--shadows A-B] [--gpus 0,1,... [--models-per-gpu N]] [--workers N] [--device auto|cpu|cuda]
//            [--no-train] [--json] [--bootstrap N] [--data PATH] [--log-every S]
//   sp_audit CONFIG --out DIR --slurm [--dry-run] [--partition P] [--account A] [--time T] [--gres G]
//            [--cpus-per-task N] [--mem M] [--array-limit N] [--sbatch-extra OPT] [--slurm-log-dir D]:
//            a SLURM job array (one task per shadow) and a dependent report job (paradigms/audit/slurm_submit.h)
//   sp_audit --status DIR [--json]
//   sp_audit --compare DIR1 DIR2 ... --out OUT [--json]
// Exit status (paradigms/audit/exit_status.h, README "Exit status"): 0 every requested shadow model is
// finished and the attacks ran (or there are fewer than 2 finished models to attack, with --shadows); 1 an
// error before or outside training, CLI usage errors included (the message names the file or key); 2
// partial: some requested shadow model failed or is missing, or the attacks failed (the report is still
// written and says what is missing). --status, --compare and --slurm end with 0 or 1.
// Tested end to end by tests/test_sp_audit.cpp and tests/test_process_faults.cpp.
#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>

#include "kernels/cpu/blas_setup.h"
#include "kernels/error.h"
#include "paradigms/audit/audit_pipeline.h"
#include "paradigms/audit/exit_status.h"
#include "paradigms/audit/slurm_submit.h"
#include "paradigms/cli_args.h"

using namespace sp;

int main(int argc, char** argv) {
  sp::cpu::ensure_fast_blas(argv);
  CLI::App app{
      "synpriv audit: train the shadow models of an experiment (resuming what exists), attack them with LiRA, and\n"
      "write DIR/report.md, DIR/report.html, DIR/summary.json and DIR/summary.csv."};
  audit::AuditOptions o;
  std::string config, shadows, gpus, status_dir;
  std::vector<std::string> compare;
  bool no_train = false, json = false;
  app.add_option("CONFIG", config, "experiment configuration (JSON; e.g. configs/demo.json)");
  app.add_option("--out", o.dir, "experiment directory (created, or reopened to continue); with --compare: the report folder");
  app.add_option("--shadows", shadows, "train only shadow models A to B (inclusive), e.g. 0-15");
  app.add_option("--gpus", gpus, "train in one worker process per listed GPU, concurrently, e.g. 0,1,2,3");
  app.add_option("--models-per-gpu", o.models_per_gpu,
                 "with --gpus: N worker processes (shadow models) on each GPU at once, for models too small to fill "
                 "one (default 1)")
      ->check(CLI::Range(1, 64));
  app.add_option("--workers", o.cpu_workers,
                 "train in N concurrent CPU worker processes; 0: in this process (default on the CPU: one "
                 "single-threaded worker per core, up to 8)")
      ->check(CLI::Range(0, 1024));
  app.add_option("--device", o.device, "in-process training: auto (a GPU when present), cpu or cuda")
      ->check(CLI::IsMember({"auto", "cpu", "cuda"}))
      ->capture_default_str();
  app.add_flag("--no-train", no_train, "only attack the finished shadow models and write the report");
  app.add_flag("--json", json, "print the summary as JSON on stdout (everything else goes to stderr)");
  app.add_option("--bootstrap", o.bootstrap, "bootstrap replicates for the TPR@0.1%FPR interval (0: off)")
      ->check(CLI::Range(0, 1000000))
      ->capture_default_str();
  app.add_flag("--equalize-folds", o.equalize_folds,
               "LiRA: fit every leave-one-out fold on equally many IN and OUT models (removes the bias of few "
               "shadow models; see sp_lira --help)");
  app.add_option("--data", o.data_path, "dataset path, overriding dataset.path of CONFIG");
  app.add_option("--log-every", o.log_every, "seconds between progress lines when not on a terminal")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--checkpoint-every", o.checkpoint_every,
                 "seconds between epoch checkpoints of a training shadow (0: after every epoch)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--status", status_dir, "print which shadow models of DIR are done, running, failed or missing, "
                                         "and the results so far");
  app.add_option("--compare", compare, "combine the reports of several audited experiment directories (with --out)")
      ->expected(1, -1);
  audit::SlurmCliOptions slurm;
  audit::add_slurm_cli_options(app, slurm);
  SP_CLI_PARSE(app, argc, argv);

  std::signal(SIGXFSZ, SIG_IGN);  // a full disk or file-size limit must end as a message
  try {
    if (!status_dir.empty()) return audit::print_status(status_dir, json);
    if (!compare.empty()) return audit::run_compare(compare, o.dir, json);
    SP_CHECK(!config.empty(), "missing CONFIG (an experiment configuration, e.g. configs/demo.json); see --help");
    SP_CHECK(!o.dir.empty(), "missing --out DIR (the experiment directory)");
    o.config_path = config;
    o.train = !no_train;
    o.json = json;
    if (!shadows.empty()) {
      parse_index_range(shadows, "--shadows", &o.first, &o.last);
    }
    if (!gpus.empty()) o.gpus = parse_index_list(gpus, "--gpus");
    if (slurm.enabled) {
      SP_CHECK(!no_train && gpus.empty(), "--slurm: training happens in the job array (one task per shadow, GPUs "
               "by --gres); --no-train and --gpus do not apply");
      SP_CHECK(o.models_per_gpu == 1, "--slurm: each task trains one shadow model; --models-per-gpu does not apply");
      slurm.config = config;
      slurm.out = o.dir;
      slurm.data_path = o.data_path;
      slurm.first = o.first;
      slurm.last = o.last;
      slurm.range_given = !shadows.empty();
      if (o.device != "auto") slurm.train_args = {"--device", o.device};
      return audit::run_slurm_submit(slurm);
    }
    return audit::run_audit(o);
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "sp_audit: error: %s\n", e.what());
    return kExitError;
  }
}
