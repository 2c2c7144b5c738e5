// The sp_audit pipeline over one experiment directory: validate the configuration (every problem at once)
// and the directory (a different configuration is refused with the differences), train every shadow that
// is not finished (in this process, or in worker processes, one per GPU or CPU worker), run the LiRA
// attacks over the finished shadows, draw the data grids, and write summary.json, summary.csv, report.md
// and report.html. A shadow that fails is recorded (failed.json) and the others go on; the run then ends
// with exit status 2. Shadows another live process is training are waited for (and taken over if it dies);
// temporaries of killed writers are removed first. Also `--status` (what is done, running (by which
// process), failed or missing, and the results so far).
// Tested end to end in tests/test_sp_audit.cpp and tests/test_process_faults.cpp.
#pragma once
#include <string>
#include <vector>

namespace sp::audit {

struct AuditOptions {
  std::string config_path, dir;
  int first = 0, last = -1;          // shadows to train (inclusive); last < 0: all
  std::string device = "auto";       // in-process training: auto | cpu | cuda
  std::vector<int> gpus;             // worker processes, models_per_gpu per listed GPU
  int models_per_gpu = 1;            // concurrent worker processes (shadow models) on each GPU
  int cpu_workers = -1;              // worker processes on the CPU (0: train in this process; -1: automatic,
                                     // one single-threaded worker per core, up to 8, when training on the CPU)
  bool train = true;                 // false: attacks and report over what is there
  bool json = false;                 // summary JSON on stdout, everything else on stderr
  int bootstrap = 1000;              // LiRA bootstrap replicates for the TPR@0.1%FPR interval
  bool equalize_folds = false;       // sp_lira --equalize-folds (removes the leave-one-out bias at small S)
  double log_every = 30;             // seconds between progress lines (not on a terminal)
  double checkpoint_every = 60;      // seconds between epoch checkpoints (0: every epoch)
  std::string data_path;             // overrides dataset.path
  std::string self_path;             // this executable (sp_train is looked up next to it)
};

// Exit status (paradigms/audit/exit_status.h): kExitOk all requested shadows finished and attacked (fewer
// than 2 finished in all: nothing to attack, not an error); kExitPartial some shadow failed or is missing,
// or the attacks failed (an unreadable labels.npy or logits.npy: the output names it). Errors before any
// work (bad configuration, another experiment in DIR) throw.
int run_audit(const AuditOptions& o);

// `sp_audit --status DIR`: prints the state of every shadow and the results so far (JSON with `json`).
int print_status(const std::string& dir, bool json);

// `sp_audit --compare DIR... --out OUT`.
int run_compare(const std::vector<std::string>& dirs, const std::string& out, bool json);

}  // namespace sp::audit
