// Training shadow models in concurrent worker processes: one `sp_train DIR/config.json --out DIR --shadow K`
// process per shadow, at most one per slot at a time, where a slot is a GPU (the child sees only that GPU
// through CUDA_VISIBLE_DEVICES) or a CPU worker. Separate processes keep a crashing or failing shadow from
// taking the others down and need no thread safety from the device code; each writes its output to
// DIR/shadow/<k>/train.log. A shadow whose process exits non-zero gets DIR/shadow/<k>/failed.json with the
// last lines of its log. Workers die with the pool's process (subprocess.h), killed or not.
// A shadow whose lock another live process holds (another sp_audit's worker, a SLURM task, a stray
// sp_train) is not reported missing: the free shadows go first, and the locked one is started as soon as
// its lock is released, which resumes from the holder's checkpoint if the holder died, or finds it done.
// Tested in tests/test_sp_audit.cpp (two CPU workers) and tests/test_process_faults.cpp (a killed audit,
// concurrent audits, a live holder).
#pragma once
#include <functional>
#include <string>
#include <vector>

namespace sp::audit {

struct WorkerSlot {
  std::string name;                  // "gpu 1", "gpu 1 (2 of 4)", "cpu worker 0"
  std::vector<std::string> env;      // extra "KEY=VALUE" entries for the child
  std::vector<std::string> args;     // extra sp_train arguments (e.g. --device cuda)
};

struct WorkerJob {
  int shadow = 0;
  int exit_status = -1;              // set when finished; 128 + signal for a killed child
  double seconds = 0;
};

// The worker slots of a run: `per_gpu` slots on each listed GPU (several shadow models share a GPU that one
// small model would leave mostly idle; each child sees only its GPU), then `cpu_workers` CPU workers. The
// host's `cores` are shared equally among all slots (SP_CPU_THREADS, and OPENBLAS_NUM_THREADS for CPU
// workers). Throws sp::Error when check_gpu_slots does.
std::vector<WorkerSlot> worker_slots(const std::vector<int>& gpus, int per_gpu, int cpu_workers, int cores);

// Throws sp::Error naming the option when per_gpu < 1 or a GPU is listed twice: what sp_audit checks before
// any work.
void check_gpu_slots(const std::vector<int>& gpus, int per_gpu);

// Runs `sp_train_path CONFIG --out DIR --shadow K <slot args>` for every shadow in `shadows`, keeping every
// slot busy, until each is finished (by a worker or by another process) or failed. `on_event` receives a
// line per start, end and wait, and every `status_interval_s` a status line.
std::vector<WorkerJob> run_worker_pool(const std::string& sp_train_path, const std::string& config_path,
                                       const std::string& dir, const std::vector<int>& shadows,
                                       const std::vector<WorkerSlot>& slots, double status_interval_s,
                                       const std::function<void(const std::string&)>& on_event);

// The last `n` non-empty lines of a text file ("" when unreadable); progress bars' carriage returns split
// lines too.
std::string tail_lines(const std::string& path, int n);

}  // namespace sp::audit
