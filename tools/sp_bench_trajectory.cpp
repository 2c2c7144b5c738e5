// sp_bench_trajectory: the cost of one MTT iteration (nn/trajectory_matching.h) on ConvNet-3 (default width
// 128) for each (--ipc, --syn-steps) pair: syn_steps unrolled steps on the whole synthetic set of ipc x 10
// images with per-sample DSA and the meta-gradient w.r.t. the images and the step size, in the unrolled mode
// (one tape) and the adjoint mode (parameter snapshots only, each step recomputed). Every case runs in its own
// child process, so its peak memory is its own: the resident-set high-water mark on the CPU (ru_maxrss),
// the caching pool's peak bytes on the GPU. Parameters are random (the cost does not depend on them).
// Usage: sp_bench_trajectory [--device cpu|cuda] [--width W] [--ipc 10,50] [--syn-steps 20,80]
//        [--modes unrolled,adjoint] [--batch-syn B] [--reps R]. Times: the median of --reps iterations after
//        one warm-up (--warmup 0 skips it).
#include <CLI/CLI.hpp>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "kernels/axpby.h"
#include "kernels/counter_rng.h"
#include "kernels/cpu/blas_setup.h"
#include "kernels/cuda_api.h"
#include "kernels/error.h"
#include "nn/dsa.h"
#include "nn/trajectory_matching.h"
#include "paradigms/audit/exit_status.h"
#include "paradigms/cli_args.h"

using namespace sp;

namespace {

struct Options {
  std::string device = "cpu";
  int64_t width = 128;
  std::vector<int64_t> ipc{10, 50}, syn_steps{20, 80};
  std::vector<std::string> modes{"unrolled", "adjoint"};
  int64_t batch_syn = 0;  // images per step (0: all)
  int reps = 1, warmup = 1;
};

struct Outcome {
  double seconds = 0, peak_mib = 0, loss = 0;
};

// Uniform values in [-scale, scale) on the CPU.
Tensor noise(const Shape& shape, uint64_t seed, double scale) {
  std::vector<float> v(static_cast<size_t>(shape.numel()));
  crng::Stream32 r(seed, 0);
  for (float& x : v) x = float(scale * (2 * r.uniform_d() - 1));
  return Tensor::from_vector(v, shape);
}

Outcome run_case(const Options& o, int64_t ipc, int64_t steps, MetaGradMode mode) {
  Stream& s = pick_device(o.device);
  ModelConfig mc;
  mc.name = "convnet3";
  mc.width = o.width;
  std::unique_ptr<Model> net = make_model(mc);
  const int64_t P = net->params().numel(), n = 10 * ipc;
  TrajectoryMatchArgs a;
  a.model = net.get();
  Tensor theta = Tensor::empty({P}, DType::f32, s);
  net->init(s, theta, Tensor(), 3);
  a.theta_start = theta;
  a.theta_target = noise({P}, 4, 0.01).to(s.device(), s);
  {
    Tensor t = Tensor::empty({P}, DType::f32, s);
    t.copy_(theta, s);
    axpby(s, t, a.theta_target, 1.0, 1.0);
    a.theta_target = t;
  }
  a.images = noise({n, 3, 32, 32}, 5, 1.0).to(s.device(), s);
  std::vector<int64_t> y;
  for (int64_t i = 0; i < n; ++i) y.push_back(i % 10);
  a.labels = Tensor::from_vector(y, {n}).to(s.device(), s);
  // Step k takes the k-th chunk of batch_syn consecutive rows (wrapping), as upstream's chunks of a permutation.
  const int64_t B = o.batch_syn > 0 ? std::min(o.batch_syn, n) : n;
  for (int64_t k = 0; k < steps; ++k) {
    std::vector<int64_t> rows;
    for (int64_t i = 0; i < B; ++i) rows.push_back((k * B + i) % n);
    std::sort(rows.begin(), rows.end());
    a.batches.push_back(rows);
  }
  auto draws = std::make_shared<std::vector<dsa::AugDraw>>();
  dsa::DsaParams p;
  std::vector<dsa::Group> strategy = dsa::parse_strategy("color_crop_cutout_flip_scale_rotate");
  for (int64_t k = 0; k < steps; ++k) draws->push_back(dsa::draw(strategy, p, B, 32, 32, 9, uint64_t(k), false));
  a.aug = [draws](Tape& t, Var x, int64_t k) { return dsa::apply(t, x, (*draws)[size_t(k)]); };
  a.lr = 0.01;
  std::vector<double> secs;
  Outcome out;
  for (int r = 1 - o.warmup; r <= o.reps; ++r) {
    if (r == 1 && !s.device().is_cpu()) cuda_api::reset_pool_peak(s.device().index);
    s.synchronize();
    auto t0 = std::chrono::steady_clock::now();
    TrajectoryMatchResult res = trajectory_match(s, a, mode);
    s.synchronize();
    if (r >= 1) secs.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    out.loss = res.loss;
  }
  std::sort(secs.begin(), secs.end());
  out.seconds = secs[secs.size() / 2];
  if (s.device().is_cpu()) {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    out.peak_mib = double(ru.ru_maxrss) / 1024.0;
  } else {
    out.peak_mib = double(cuda_api::pool_stats(s.device().index).peak_in_use) / (1 << 20);
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  sp::cpu::ensure_fast_blas(argv);
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  Options o;
  CLI::App app{"Cost and peak memory of one MTT iteration, unrolled vs adjoint"};
  app.add_option("--device", o.device, "cpu or cuda")->check(CLI::IsMember({"cpu", "cuda"}));
  app.add_option("--width", o.width, "ConvNet-3 width")->check(CLI::Range(1, 4096));
  app.add_option("--ipc", o.ipc, "images per class (list)")->delimiter(',')->check(CLI::Range(1, 100000));
  app.add_option("--syn-steps", o.syn_steps, "unrolled steps (list)")->delimiter(',')->check(CLI::Range(1, 100000));
  app.add_option("--modes", o.modes, "unrolled,adjoint")->delimiter(',')->check(CLI::IsMember({"unrolled", "adjoint"}));
  app.add_option("--batch-syn", o.batch_syn, "synthetic images per step (0: all; DATM IPC 500/1000: 1000)")
      ->check(CLI::Range(0, 1 << 30));
  app.add_option("--reps", o.reps, "timed iterations")->check(CLI::Range(1, 1000));
  app.add_option("--warmup", o.warmup, "untimed iterations first")->check(CLI::Range(0, 1));
  SP_CLI_PARSE(app, argc, argv);
  std::printf("sp_bench_trajectory on %s: ConvNet-3 width %lld, %s per step, per-sample DSA\n", o.device.c_str(),
              (long long)o.width, o.batch_syn > 0 ? (std::to_string(o.batch_syn) + " synthetic images").c_str() : "the whole synthetic set");
  std::printf("%6s %9s %9s %12s %14s %10s\n", "ipc", "syn_steps", "mode", "s/iteration", o.device == "cpu" ? "peak RSS MiB" : "peak pool MiB",
              "loss");
  for (int64_t ipc : o.ipc)
    for (int64_t steps : o.syn_steps)
      for (const std::string& m : o.modes) {
        int fd[2];
        SP_CHECK(pipe(fd) == 0, "sp_bench_trajectory: pipe failed");
        pid_t pid = fork();
        if (pid == 0) {
          close(fd[0]);
          Outcome r{};
          int code = 0;
          try {
            r = run_case(o, ipc, steps, meta_grad_mode_from_name(m));
          } catch (const Error& e) {
            std::fprintf(stderr, "sp_bench_trajectory: ipc %lld steps %lld %s: %s\n", (long long)ipc, (long long)steps,
                         m.c_str(), e.what());
            code = 1;
          }
          if (write(fd[1], &r, sizeof r) != ssize_t(sizeof r)) code = 1;
          _exit(code);
        }
        close(fd[1]);
        Outcome r{};
        const bool got = read(fd[0], &r, sizeof r) == ssize_t(sizeof r);
        close(fd[0]);
        int status = 0;
        waitpid(pid, &status, 0);
        if (!got || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
          std::printf("%6lld %9lld %9s %12s\n", (long long)ipc, (long long)steps, m.c_str(), "failed");
          continue;
        }
        std::printf("%6lld %9lld %9s %12.2f %14.0f %10.4f\n", (long long)ipc, (long long)steps, m.c_str(), r.seconds,
                    r.peak_mib, r.loss);
      }
  return 0;
}
