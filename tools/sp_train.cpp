// sp_train: trains the shadow models of an experiment under its paradigm (paradigms/paradigm.h: the undefended
// baseline, "dpsgd", "coreset", ...) and queries them.
//   sp_train CONFIG --out DIR [--shadow K | --shadows A-B] [--device auto|cpu|cuda] [--query-all]
//            [--data PATH] [--precision auto|fp32|tf32|bf16] [--cuda-graphs auto|on|off] [--checkpoint-every S]
//            [--log-every S]   (--tf32 on|off, the older spelling of --precision tf32|fp32, is still taken)
//   sp_train CONFIG --out DIR --slurm [--dry-run] [--partition P --gres gpu:1 ...]: the same as a SLURM job
//            array, one task per shadow (paradigms/audit/slurm_submit.h; sp_audit --slurm adds the report job)
//   sp_train [CONFIG] --bench [--bench-width W] [--bench-batch 512,128] [--bench-query-batch 1008] [--bench-steps N]
//                    [--bench-layout auto|nchw|nhwc]
//   sp_train [CONFIG] --bench-dpsgd [--bench-width W] [--bench-batch 256] [--bench-augmult K] [--bench-steps N]
//     (a DP-SGD step of WRN-16-4, or CONFIG's group-norm model, against a non-private step: paradigms/dpsgd/dp_bench.h)
// The configuration is validated completely (every problem listed) and the requested shadows checked
// against it before any work; a directory holding another configuration is refused with the differences.
// Outputs per shadow: see paradigms/engine/shadow_train.h; the paradigm adds experiment-level files once its
// shadows are done (coreset: DIR/coreset_groups.npy for sp_lira --groups). A shadow another process is
// training is waited for after the others, and taken over from its last checkpoint if that process dies
// (--no-wait: skipped). Exit status (paradigms/audit/exit_status.h): 0 every requested shadow is finished;
// 1 an error (bad usage, configuration or directory, or a failing shadow, which stops the run: the message
// names it); 2 some shadow was skipped for another process (--no-wait). Temporaries of killed writers in
// DIR are removed at the start (data/file_util.h).
// Tested end to end by tests/test_sp_train.cpp and tests/test_process_faults.cpp.
#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>

#include "data/file_util.h"
#include "paradigms/audit/shadow_scan.h"
#include "paradigms/audit/slurm_submit.h"
#include "paradigms/dpsgd/dp_bench.h"
#include "paradigms/cli_args.h"
#include "paradigms/dpsgd/dp_config.h"
#include "paradigms/paradigm.h"
#include "paradigms/engine/shadow_train.h"
#include "paradigms/engine/train_bench.h"
#include "kernels/cpu/blas_setup.h"
#include "paradigms/audit/exit_status.h"

using namespace sp;

namespace {

struct Range {
  int first = 0, last = -1;  // inclusive; last < first: all shadows
};

Range parse_range(const std::string& shadow, const std::string& shadows, int num_shadows) {
  Range r{0, num_shadows - 1};
  if (!shadow.empty()) r.first = r.last = parse_index(shadow, "--shadow");
  if (!shadows.empty()) parse_index_range(shadows, "--shadows", &r.first, &r.last);
  SP_CHECK(r.last < num_shadows, "shadow index ", r.last, " is out of range: the configuration has num_shadows = ",
           num_shadows, " (indices 0-", num_shadows - 1, ")");
  return r;
}

std::vector<int64_t> parse_batches(const std::string& list) {
  std::vector<int> b = parse_index_list(list, "--bench-batch");
  return std::vector<int64_t>(b.begin(), b.end());
}

// --precision, or --tf32 on|off as tf32|fp32; empty when neither is given (CLI11 refuses both).
std::string precision_option(const std::string& precision, const std::string& tf32) {
  if (!precision.empty()) return precision;
  return tf32.empty() ? "" : tf32 == "on" ? "tf32" : "fp32";
}

// The command line's --bench / --bench-dpsgd settings (empty or 0: CONFIG's, else the default).
struct BenchArgs {
  std::string config, device, batches, precision, cuda_graphs, layout;
  int width = 0, steps = 0, query_batch = 0, augmult = 0;
};

int run_bench(const BenchArgs& a) {
  BenchOptions o;
  Stream& s = pick_device(a.device);
  if (!a.config.empty()) {
    RunConfig c = load_config(a.config);
    o.model = c.model;
    o.precision = c.precision;
    o.batches = {c.recipe.batch_size};
    o.eval_batch = c.eval_batch;
    o.execution = c.execution;
    s.deterministic = c.deterministic;
  }
  if (!a.precision.empty()) o.precision = parse_precision(a.precision);
  if (!a.cuda_graphs.empty()) o.execution.cuda_graphs = cuda_graph_mode_from_name(a.cuda_graphs);
  if (a.width > 0) o.model.width = a.width;
  if (!a.layout.empty()) o.model.layout = parse_activation_layout(a.layout);
  if (!a.batches.empty()) o.batches = parse_batches(a.batches);
  if (a.query_batch > 0) o.eval_batch = a.query_batch;
  o.steps = a.steps > 0 ? a.steps : (s.is_cuda() ? 30 : 3);
  o.warmup_steps = s.is_cuda() ? 5 : 1;
  std::printf("sp_train --bench: %d timed steps per row after %d warm-up steps...\n", o.steps, o.warmup_steps);
  std::fflush(stdout);
  std::vector<BenchRow> rows = run_train_bench(o, s);
  std::printf("%s", format_bench_table(o, rows, s).c_str());
  return 0;
}

int run_bench_dpsgd(const BenchArgs& a) {
  dpsgd::DpBenchOptions o;
  Stream& s = pick_device(a.device);
  Precision p = Precision::automatic;
  if (!a.config.empty()) {
    RunConfig c = load_config(a.config);
    o.model = c.model;
    p = c.precision;
    if (const dpsgd::DpsgdSettings* d = c.settings_if<dpsgd::DpsgdSettings>()) {
      o.augmult = d->augmult;
      o.batch = d->physical_batch;
    }
    s.deterministic = c.deterministic;
  }
  if (!a.precision.empty()) p = parse_precision(a.precision);
  p = resolve_precision(p, s);
  apply_precision(s, p);
  o.model.bf16 = p == Precision::bf16;
  if (a.width > 0) o.model.width = a.width;
  if (!a.batches.empty()) o.batch = parse_batches(a.batches).front();
  if (a.augmult > 0) o.augmult = a.augmult;
  o.steps = a.steps > 0 ? a.steps : (s.is_cuda() ? 20 : 3);
  o.warmup_steps = s.is_cuda() ? 5 : 1;
  std::printf("%s", dpsgd::format_dpsgd_bench(o, dpsgd::run_dpsgd_bench(o, s), s).c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  sp::cpu::ensure_fast_blas(argv);
  CLI::App app{
      "Train the shadow models of a membership-inference experiment under its paradigm and query them.\n"
      "Writes DIR/shadow/<k>/{model.safetensors, logits.npy, scores.npy, metrics.json}; resumable."};
  std::string config, out, shadow, shadows, device = "auto", data_path, precision, tf32, cuda_graphs;
  bool query_all = false, bench = false, bench_dpsgd = false, no_wait = false;
  double log_every = 30, checkpoint_every = 60;
  BenchArgs ba;
  app.add_option("CONFIG", config, "experiment configuration (JSON; see configs/)");
  app.add_option("--out", out, "experiment directory (created, or reopened to continue)");
  auto* one = app.add_option("--shadow", shadow, "train only shadow model K");
  app.add_option("--shadows", shadows, "train shadow models A to B (inclusive), e.g. 0-15")->excludes(one);
  app.add_option("--device", device, "auto (a GPU when present), cpu or cuda")
      ->check(CLI::IsMember({"auto", "cpu", "cuda"}))
      ->capture_default_str();
  app.add_flag("--query-all", query_all, "also write logits_all.npy: query logits of the whole training set");
  app.add_option("--data", data_path, "dataset path, overriding dataset.path of CONFIG");
  auto* precision_opt =
      app.add_option("--precision", precision,
                     "auto/fp32/tf32/bf16: numeric precision (overrides device.precision; bf16 is the emulated bf16 "
                     "mixed precision, another experiment than fp32/tf32)")
          ->check(CLI::IsMember(precision_names()));
  app.add_option("--tf32", tf32, "on/off: the older spelling of --precision tf32/fp32")
      ->check(CLI::IsMember({"on", "off"}))
      ->excludes(precision_opt);
  app.add_option("--cuda-graphs", cuda_graphs,
                 "auto/on/off: capture the training step as a CUDA graph (overrides device.cuda_graphs)")
      ->check(CLI::IsMember({"auto", "on", "off"}));
  app.add_option("--checkpoint-every", checkpoint_every,
                 "seconds between epoch checkpoints (0: after every epoch; always after the last)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--log-every", log_every, "seconds between progress lines when not on a terminal")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_flag("--no-wait", no_wait,
               "skip shadow models another process is training (exit status 2 when any was skipped) instead of "
               "waiting for them after the others");
  app.add_flag("--bench", bench, "measure training and query throughput on synthetic data and exit");
  app.add_option("--bench-width", ba.width, "model width for --bench (default: CONFIG's, else 64)")
      ->check(CLI::Range(1, 4096));
  app.add_option("--bench-batch", ba.batches, "comma-separated batch sizes for --bench (default: CONFIG's, else 512,128)");
  app.add_option("--bench-query-batch", ba.query_batch,
                 "images per query forward for --bench (a multiple of 18; default: CONFIG's eval_batch, else 1008)")
      ->check(CLI::Range(18, 1 << 20));
  app.add_option("--bench-layout", ba.layout,
                 "activation layout for --bench: auto, nchw or nhwc (default: CONFIG's model.layout, else auto)")
      ->check(CLI::IsMember({"auto", "nchw", "nhwc"}));
  app.add_flag("--bench-dpsgd", bench_dpsgd, "time a DP-SGD step against a non-private step of the same model and exit");
  app.add_option("--bench-augmult", ba.augmult, "augmentation multiplicity K for --bench-dpsgd (default 1)")
      ->check(CLI::Range(1, 1024));
  app.add_option("--bench-steps", ba.steps, "timed steps per row (default 30 on a GPU, 3 on the CPU)")
      ->check(CLI::Range(1, 100000));
  audit::SlurmCliOptions slurm;
  slurm.report_job = false;
  audit::add_slurm_cli_options(app, slurm);
  SP_CLI_PARSE(app, argc, argv);

  // A file-size limit (or a full quota) must end as an error message, not as a SIGXFSZ kill.
  std::signal(SIGXFSZ, SIG_IGN);
  try {
    const std::string precision_given = precision_option(precision, tf32);
    if (bench || bench_dpsgd) {
      ba.config = config;
      ba.device = device;
      ba.precision = precision_given;
      ba.cuda_graphs = cuda_graphs;
      return bench_dpsgd ? run_bench_dpsgd(ba) : run_bench(ba);
    }
    SP_CHECK(!config.empty(), "missing CONFIG (an experiment configuration, e.g. configs/small_cpu.json)");
    SP_CHECK(!out.empty(), "missing --out DIR (the experiment directory)");
    RunConfig cfg = load_config(config);
    if (!data_path.empty()) override_dataset_path(cfg, data_path);
    if (!precision_given.empty()) set_precision(cfg, parse_precision(precision_given));
    if (!cuda_graphs.empty()) {
      cfg.execution.cuda_graphs = cuda_graph_mode_from_name(cuda_graphs);
      cfg.resolved["device"]["cuda_graphs"] = cuda_graphs;
    }
    Range range = parse_range(shadow, shadows, cfg.num_shadows);
    if (slurm.enabled) {
      slurm.config = config;
      slurm.out = out;
      slurm.data_path = data_path;
      slurm.first = range.first;
      slurm.last = range.last;
      if (device != "auto") slurm.train_args = {"--device", device};
      slurm.precision = precision_given;  // in the jobs' configuration, which makes the directory
      if (!cuda_graphs.empty()) slurm.train_args.insert(slurm.train_args.end(), {"--cuda-graphs", cuda_graphs});
      if (query_all) slurm.train_args.push_back("--query-all");
      return audit::run_slurm_submit(slurm);
    }
    check_run_dir(out, cfg);
    Stream& s = pick_device(device);
    const Precision used = cfg.resolved_precision(s);
    apply_precision(s, used);
    s.deterministic = cfg.deterministic;

    std::printf("sp_train: %s -> %s\n  %s, %s width %lld, %d shadow models (training %d-%d), %d epochs, batch %lld, "
                "query views %s, device %s%s, precision %s\n",
                config.c_str(), out.c_str(), cfg.dataset.str().c_str(), cfg.model.name.c_str(),
                (long long)cfg.model.width, cfg.num_shadows, range.first, range.last, cfg.recipe.epochs,
                (long long)cfg.recipe.batch_size, data::query_views_name(cfg.query_views).c_str(), s.device().str().c_str(),
                s.is_cuda() ? (s.allow_tf32 ? " (TF32 on)" : " (TF32 off)") : "", precision_name(used));
    std::fflush(stdout);
    ExperimentRun run = open_experiment_run(cfg, out, s);
    paradigm_of(cfg).check_experiment(run);
    std::printf("  %lld training / %lld test images, %lld audit samples (%s canaries); loaded in %.1f s\n",
                (long long)run.data.train.size(), (long long)run.data.test.size(), (long long)run.exp.audit.size(),
                data::canary_name(cfg.canary).c_str(), run.load_seconds);
    std::fflush(stdout);

    const Paradigm& paradigm = paradigm_of(cfg);
    ProgressPrinter progress(ProgressPrinter::stderr_is_terminal(), log_every);
    ShadowOptions opt;
    opt.query_all = query_all;
    opt.checkpoint_interval_s = checkpoint_every;
    opt.progress = &progress;
    for (const data::RemovedTemporary& t : data::remove_stale_temporaries(out, true))
      std::printf("sp_train: removed the stale temporary %s (process %ld is gone)\n", t.path.c_str(), t.pid);
    double acc_sum = 0;
    int trained = 0, skipped = 0;
    std::vector<int> busy;
    auto account = [&](int k, const ShadowResult& r) {
      if (r.busy) {
        busy.push_back(k);
        return;
      }
      (r.skipped ? skipped : trained) += 1;
      if (r.metrics.is_object() && r.metrics.contains("test_accuracy"))
        acc_sum += r.metrics["test_accuracy"].get<double>();
    };
    for (int k = range.first; k <= range.last; ++k) account(k, train_shadow(run, k, s, paradigm, opt));
    // Shadows another process holds come last, so that its work and ours overlap.
    if (!no_wait && !busy.empty()) {
      std::vector<int> waited;
      waited.swap(busy);
      opt.wait_if_busy = true;
      for (int k : waited) account(k, train_shadow(run, k, s, paradigm, opt));
    }
    for (const std::string& line : paradigm.finish_experiment(out, cfg)) std::printf("sp_train: %s\n", line.c_str());
    const int n = range.last - range.first + 1, nb = int(busy.size());
    const std::string left = busy.empty() ? "" : ", skipped " + audit::format_index_list(busy) + " (another process trains them)";
    std::printf("sp_train: %d trained, %d already done%s; mean test accuracy of the %d finished shadows in %d-%d: "
                "%.2f%%\n",
                trained, skipped, left.c_str(), n - nb, range.first, range.last, n > nb ? 100 * acc_sum / (n - nb) : 0.0);
    return busy.empty() ? kExitOk : kExitPartial;
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "sp_train: error: %s\n", e.what());
    return kExitError;
  }
}
