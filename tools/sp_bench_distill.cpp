// sp_bench_distill: the cost of dataset distillation's iterations (paradigms/distill/distiller.h) on
// ConvNet-3 (default width 128) at --ipc images per class (default 10) with 10 classes of --per-class real
// images (procedural shapes10 pixels: the cost does not depend on the content):
//   DC outer step  one matching step over every class (a real batch of --batch-real images and the class's
//                  synthetic images, create-graph gradient, layer-wise distance, its gradient w.r.t. the
//                  images) plus the image update, and one run of --inner-loop epochs of the network on the
//                  synthetic set (upstream IPC 10: 50). Timed from a DC iteration of 2 outer steps, which
//                  runs two matching steps and one inner run.
//   DSA            the same with the Siamese augmentation of every batch;
//   DM iteration   the embedding means of a real and the synthetic batch of every class and the image update.
// Usage: sp_bench_distill [--device cpu|cuda] [--width W] [--ipc N] [--batch-real B] [--per-class P]
//        [--inner-loop E] [--reps R] [--warmup 0|1] [--methods dc,dsa,dm]. Times: the median of --reps
//        iterations after --warmup untimed ones.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "data/procedural.h"
#include "kernels/cpu/blas_setup.h"
#include "kernels/error.h"
#include "paradigms/audit/exit_status.h"
#include "paradigms/cli_args.h"
#include "paradigms/distill/distiller.h"

using namespace sp;

namespace {

struct Options {
  std::string device = "cpu";
  int64_t width = 128, ipc = 10, batch_real = 256, per_class = 256, inner_loop = 50;
  int reps = 3, warmup = 1;
  std::vector<std::string> methods{"dc", "dsa", "dm"};
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

void bench(Stream& s, const Options& o, const DeviceData& d, const std::string& method) {
  distill::DistillConfig c;
  c.method = method == "dc" ? distill::Method::dc : method == "dsa" ? distill::Method::dsa : distill::Method::dm;
  c.ipc = o.ipc;
  c.batch_real = o.batch_real;
  c.outer_loop = 2;
  c.inner_loop = o.inner_loop;
  c.dsa = c.method != distill::Method::dc;
  c.strategy = dsa::parse_strategy(c.dsa_strategy);
  c.net.name = "convnet3";
  c.net.width = o.width;
  distill::ClassPool pool(d, 10, data::Normalization::cifar10());
  Tensor images = Tensor::zeros({10 * o.ipc, 3, 32, 32}, DType::f32, s);
  distill::Distiller dist(c, pool, images, 7, s);
  dist.set_timing(true);
  std::vector<double> match, inner, total;
  for (int r = 1 - o.warmup; r <= o.reps; ++r) {
    distill::Distiller::Timing before = dist.timing();
    s.synchronize();
    auto t0 = std::chrono::steady_clock::now();
    dist.step();
    s.synchronize();
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (r <= 0) continue;  // warm-up
    const distill::Distiller::Timing& t = dist.timing();
    const double steps = double(t.match_steps - before.match_steps);
    match.push_back((t.match_s - before.match_s) / steps);
    if (t.inner_runs > before.inner_runs) inner.push_back((t.inner_s - before.inner_s) / double(t.inner_runs - before.inner_runs));
    total.push_back(secs);
  }
  if (c.method == distill::Method::dm) {
    std::printf("%-4s iteration (10 classes, real %lld, ipc %lld, width %lld): %.3f s\n", method.c_str(),
                (long long)o.batch_real, (long long)o.ipc, (long long)o.width, median(total));
  } else {
    const double m = median(match), i = median(inner);
    std::printf("%-4s outer step (width %lld, ipc %lld, real %lld): %.3f s = matching %.3f s + %lld inner epochs %.3f s;"
                " an iteration of 10 such steps (upstream IPC 10) ~ %.1f s\n",
                method.c_str(), (long long)o.width, (long long)o.ipc, (long long)o.batch_real, m + i, m,
                (long long)o.inner_loop, i, 10 * m + 9 * i);
  }
}

}  // namespace

int main(int argc, char** argv) {
  sp::cpu::ensure_fast_blas(argv);
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  Options o;
  CLI::App app{"Cost of DC / DSA / DM iterations on ConvNet-3"};
  app.add_option("--device", o.device, "cpu or cuda")->check(CLI::IsMember({"cpu", "cuda"}));
  app.add_option("--width", o.width, "ConvNet-3 width")->check(CLI::Range(1, 4096));
  app.add_option("--ipc", o.ipc, "synthetic images per class")->check(CLI::Range(1, 100000));
  app.add_option("--batch-real", o.batch_real, "real images per class and step")->check(CLI::Range(1, 100000));
  app.add_option("--per-class", o.per_class, "real images available per class")->check(CLI::Range(1, 100000));
  app.add_option("--inner-loop", o.inner_loop, "inner epochs of a DC outer step")->check(CLI::Range(0, 100000));
  app.add_option("--reps", o.reps, "timed iterations")->check(CLI::Range(1, 1000));
  app.add_option("--warmup", o.warmup, "untimed iterations first (1; 0 on the CPU, which has no algorithm search)")
      ->check(CLI::Range(0, 1));
  app.add_option("--methods", o.methods, "methods to time (dc,dsa,dm)")->delimiter(',')->check(CLI::IsMember({"dc", "dsa", "dm"}));
  SP_CLI_PARSE(app, argc, argv);
  try {
    Stream* s = &pick_device(o.device);
    data::Dataset real = data::make_shapes10(10 * o.per_class, 3, "train");
    DeviceData d = DeviceData::upload(real, *s);
    std::printf("sp_bench_distill on %s: ConvNet-3 width %lld, %lld real images per class available\n",
                s->device().str().c_str(), (long long)o.width, (long long)o.per_class);
    for (const std::string& m : o.methods) bench(*s, o, d, m);
  } catch (const Error& e) {
    std::fprintf(stderr, "sp_bench_distill: %s\n", e.what());
    return 1;
  }
  return 0;
}
