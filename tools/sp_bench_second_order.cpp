// sp_bench_second_order: the cost of second-order autograd on ConvNet-3 (the dataset-distillation network).
//   (a) a plain backward (forward + grad of the mean cross-entropy w.r.t. theta) against a double backward
//       (forward + grad_graph w.r.t. theta + DC's gradient-matching distance to a fixed real gradient +
//       its gradient w.r.t. the images), at --width/--batch (default 32/64): the ratio is what gradient
//       matching pays per step;
//   (b) a --steps-step unrolled meta-gradient (MTT's inner loop, nn/unrolled_sgd.h) on --syn-batch images:
//       time of the unrolled chain and of its meta-backward w.r.t. images and step size;
//   (c) memory per unrolled step at width 128 for batch 100 and 1000 (--memory, --memory-batches): the tape's held bytes and
//       the process's resident-set growth per step (CPU) or the CUDA pool's growth (GPU).
// Usage: sp_bench_second_order [--device cpu|cuda] [--width W] [--batch B] [--steps K] [--syn-batch N]
//        [--reps R] [--memory [--memory-batches 100,1000]]. Times are the median of --reps runs after one warm-up.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include <unistd.h>

#include "kernels/cpu/blas_setup.h"
#include "kernels/error.h"
#include "nn/matching_losses.h"
#include "nn/model.h"
#include "nn/ops_elementwise.h"
#include "nn/ops_loss.h"
#include "nn/ops_reduce.h"
#include "nn/ops_shape.h"
#include "nn/unrolled_sgd.h"
#include "paradigms/audit/exit_status.h"

using namespace sp;

namespace {

struct Options {
  std::string device = "cpu";
  int64_t width = 32, batch = 64, steps = 10, syn_batch = 100;
  int reps = 5;
  bool memory = false;
  std::vector<int64_t> memory_batches{100, 1000};
};

double rss_mib() {
  std::ifstream f("/proc/self/statm");
  long pages = 0, resident = 0;
  f >> pages >> resident;
  return double(resident) * double(sysconf(_SC_PAGESIZE)) / (1 << 20);
}

double median_ms(Stream& s, int reps, const std::function<void()>& fn) {
  fn();  // warm-up: algorithm choices, allocator pools
  std::vector<double> ms;
  for (int r = 0; r < reps; ++r) {
    s.synchronize();
    auto t0 = std::chrono::steady_clock::now();
    fn();
    s.synchronize();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

std::unique_ptr<Model> convnet(int64_t width) {
  ModelConfig c;
  c.name = "convnet3";
  c.width = width;
  return make_model(c);
}

Tensor random(const Shape& shape, uint64_t seed, Stream& s) {
  Tensor h = Tensor::empty(shape, DType::f32);
  float* p = h.data<float>();
  uint64_t z = seed * 0x9E3779B97F4A7C15ull + 1;
  for (int64_t i = 0; i < h.numel(); ++i) {
    z ^= z << 13, z ^= z >> 7, z ^= z << 17;
    p[i] = float(double(z >> 11) / double(1ull << 53) * 2.0 - 1.0);
  }
  return h.to(s.device(), s);
}

Tensor labels(int64_t n, Stream& s) {
  std::vector<int64_t> y(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) y[size_t(i)] = i % 10;
  return Tensor::from_vector(y, {n}).to(s.device(), s);
}

void plain_vs_double(Stream& s, const Options& o) {
  auto m = convnet(o.width);
  Tensor theta = Tensor::empty({m->params().numel()}, DType::f32, s);
  m->init(s, theta, Tensor(), 1);
  Tensor x = random({o.batch, 3, 32, 32}, 2, s), y = labels(o.batch, s);
  Tensor g_real;
  {
    Tape t(s);
    Var th = t.leaf(theta, true);
    g_real = t.grad(ag::cross_entropy(t, m->forward(t, th, Tensor(), t.leaf(random({o.batch, 3, 32, 32}, 3, s)), true), y), {th})[0];
  }
  double plain = median_ms(s, o.reps, [&] {
    Tape t(s);
    Var th = t.leaf(theta, true);
    t.grad(ag::cross_entropy(t, m->forward(t, th, Tensor(), t.leaf(x), true), y), {th});
  });
  size_t held = 0;
  double dbl = median_ms(s, o.reps, [&] {
    Tape t(s);
    Var th = t.leaf(theta, true), xv = t.leaf(x, true);
    Var g = t.grad_graph(ag::cross_entropy(t, m->forward(t, th, Tensor(), xv, true), y), {th})[0];
    Var d = gradient_match_distance(t, m->params(), g, g_real);
    t.grad(d, {xv});
    held = t.bytes_held();
  });
  std::printf("(a) ConvNet-3 width %lld, batch %lld, %lld parameters, f32 on %s\n", (long long)o.width,
              (long long)o.batch, (long long)m->params().numel(), o.device.c_str());
  std::printf("    plain backward (forward + dL/dtheta):                         %9.2f ms\n", plain);
  std::printf("    double backward (forward + grad_graph + distance + d/dx):     %9.2f ms  (%.2fx; tape %.1f MiB)\n",
              dbl, dbl / plain, double(held) / (1 << 20));
}

void unrolled(Stream& s, const Options& o) {
  auto m = convnet(o.width);
  Tensor theta = Tensor::empty({m->params().numel()}, DType::f32, s);
  m->init(s, theta, Tensor(), 4);
  Tensor x = random({o.syn_batch, 3, 32, 32}, 5, s), y = labels(o.syn_batch, s);
  Tensor target = random({m->params().numel()}, 6, s);
  double chain_ms = 0;
  double total = median_ms(s, o.reps, [&] {
    auto t0 = std::chrono::steady_clock::now();
    Tape t(s);
    Var xv = t.leaf(x, true), lr = t.leaf(Tensor::full({}, 0.01, DType::f32, s), true);
    std::vector<UnrolledBatch> batches(size_t(o.steps), UnrolledBatch{xv, y, Var{}});
    Var th = unrolled_sgd(t, *m, t.leaf(theta, true), lr, batches);
    Var d = ag::sub(t, th, t.leaf(target));
    Var loss = ag::sum(t, ag::mul(t, d, d));
    s.synchronize();
    chain_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    t.grad(loss, {xv, lr});
  });
  std::printf("(b) %lld-step unrolled meta-gradient, ConvNet-3 width %lld, %lld synthetic images\n", (long long)o.steps,
              (long long)o.width, (long long)o.syn_batch);
  std::printf("    unrolled chain %.1f ms, chain + meta-backward %.1f ms (%.1f ms per step)\n", chain_ms, total,
              total / double(o.steps));
}

void memory_per_step(Stream& s, const Options& o) {
  std::printf("(c) memory per unrolled step, ConvNet-3 width 128, f32 on %s\n", o.device.c_str());
  std::printf("    %8s %16s %18s\n", "batch", "tape MiB/step", "resident MiB/step");
  auto m = convnet(128);
  Tensor theta = Tensor::empty({m->params().numel()}, DType::f32, s);
  m->init(s, theta, Tensor(), 7);
  for (int64_t n : o.memory_batches) {
    Tensor x = random({n, 3, 32, 32}, 8, s), y = labels(n, s);
    Tape t(s);
    Var xv = t.leaf(x, true), lr = t.leaf(Tensor::full({}, 0.01, DType::f32, s), true);
    Var th = t.leaf(theta, true);
    // Step 1 warms the allocator; the growth of steps 2 and 3 is what each further step costs.
    std::vector<double> tape_mib, rss;
    for (int k = 0; k < 3; ++k) {
      UnrolledBatch b{xv, y, Var{}};
      th = unrolled_sgd(t, *m, th, lr, std::span<const UnrolledBatch>(&b, 1));
      s.synchronize();
      tape_mib.push_back(double(t.bytes_held()) / (1 << 20));
      rss.push_back(rss_mib());
    }
    std::printf("    %8lld %16.1f %18.1f\n", (long long)n, (tape_mib[2] - tape_mib[0]) / 2, (rss[2] - rss[0]) / 2);
  }
}

}  // namespace

int main(int argc, char** argv) {
  sp::cpu::ensure_fast_blas(argv);
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  Options o;
  CLI::App app{"Cost of second-order autograd on ConvNet-3"};
  app.add_option("--device", o.device, "cpu or cuda")->check(CLI::IsMember({"cpu", "cuda"}));
  app.add_option("--width", o.width, "ConvNet-3 width for (a) and (b)")->check(CLI::Range(1, 4096));
  app.add_option("--batch", o.batch, "batch of (a)")->check(CLI::Range(1, 100000));
  app.add_option("--steps", o.steps, "unrolled steps of (b)")->check(CLI::Range(1, 1000));
  app.add_option("--syn-batch", o.syn_batch, "synthetic images of (b)")->check(CLI::Range(1, 100000));
  app.add_option("--reps", o.reps, "timed repetitions")->check(CLI::Range(1, 1000));
  app.add_flag("--memory", o.memory, "also measure (c), memory per unrolled step at width 128 (batch 1000 needs ~GBs)");
  app.add_option("--memory-batches", o.memory_batches, "batches of (c) (default 100 1000)")->delimiter(',');
  SP_CLI_PARSE(app, argc, argv);
  try {
    Stream* s = &Stream::cpu();
    if (o.device == "cuda") {
      std::string why;
      SP_CHECK(cuda_available(&why), "no CUDA device: ", why);
      s = &Stream::cuda_default(0);
    }
    plain_vs_double(*s, o);
    unrolled(*s, o);
    if (o.memory) memory_per_step(*s, o);
  } catch (const Error& e) {
    std::fprintf(stderr, "sp_bench_second_order: %s\n", e.what());
    return 1;
  }
  return 0;
}
