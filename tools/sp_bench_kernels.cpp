// sp_bench_kernels: throughput of the performance-critical kernels on one device.
//   (a) square GEMM GFLOP/s: CPU 1024/2048 f32 (CBLAS); GPU 4096/8192 in fp32, TF32 and bf16 (cuBLAS);
//   (b) conv2d forward, backward-data and backward-filter time and GFLOP/s for every distinct ResNet-18
//       CIFAR layer shape at --batch images (default 16 on CPU, 512 on GPU), with each pass's rate as a
//       fraction of the best GEMM rate of the same precision, so "conv reaches half the GEMM rate" reads
//       off the last columns;
//   (c) GPU device-to-device copy bandwidth.
// Usage: sp_bench_kernels [--device cpu|cuda] [--batch N] [--tf32 on|off] (tf32: GPU conv math, default on).
// GPU work is timed with cudaEvents after warm-up (mean of 10 calls); CPU work as the median call over
// >= 0.2 s, and the CPU run reports how many cores it actually got (CPU time / wall time).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include <sys/resource.h>

#include "kernels/conv.h"
#include "kernels/cpu/blas_setup.h"
#include "kernels/cpu/parallel.h"
#include "kernels/matmul.h"
#include "kernels/tensor.h"
#ifdef SP_HAVE_CUDA
#include "kernels/cuda/event_timer.h"
#endif

using namespace sp;

// OpenBLAS reports which kernel set it loaded; weak, so a build on another BLAS still links.
extern "C" char* openblas_get_corename(void) __attribute__((weak));

namespace {

struct Options {
  bool cuda = false;
  int64_t batch = 0;
  bool tf32 = true;
};

constexpr const char* kUsage = "usage: sp_bench_kernels [--device cpu|cuda] [--batch N] [--tf32 on|off]\n";

// Bad usage ends with 1 (README "Exit status"); --help with 0.
[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr, "sp_bench_kernels: %s\n%s", why, kUsage);
  std::exit(1);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(("missing value after " + a).c_str());
      return argv[++i];
    };
    if (a == "--device") {
      std::string d = value();
      if (d != "cpu" && d != "cuda") usage("--device must be cpu or cuda");
      o.cuda = d == "cuda";
    } else if (a == "--batch") {
      o.batch = std::atoll(value().c_str());
      if (o.batch < 1) usage("--batch must be a positive integer");
    } else if (a == "--tf32") {
      std::string v = value();
      if (v != "on" && v != "off") usage("--tf32 must be on or off");
      o.tf32 = v == "on";
    } else if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    } else {
      usage(("unknown argument " + a).c_str());
    }
  }
  if (o.batch == 0) o.batch = o.cuda ? 512 : 16;
  return o;
}

// Milliseconds per call of f: one warm-up call, then GPU: the mean of 10 calls between two events; CPU:
// the median of calls repeated for at least 0.2 s.
double time_ms(Stream& s, const std::function<void()>& f) {
  f();
#ifdef SP_HAVE_CUDA
  if (s.is_cuda()) {
    s.synchronize();
    cuda::EventTimer t;
    const int reps = 10;
    t.start(s);
    for (int i = 0; i < reps; ++i) f();
    return t.stop_ms(s) / reps;
  }
#endif
  // The median call: robust to other processes taking the CPU for a while (the machine may be shared).
  using clock = std::chrono::steady_clock;
  std::vector<double> calls;
  double total = 0;
  while (total < 200.0 || calls.size() < 3) {
    auto t0 = clock::now();
    f();
    calls.push_back(std::chrono::duration<double, std::milli>(clock::now() - t0).count());
    total += calls.back();
  }
  std::nth_element(calls.begin(), calls.begin() + calls.size() / 2, calls.end());
  return calls[calls.size() / 2];
}

// Process CPU seconds (all threads) since start, to show how much of the machine the run actually got.
double process_cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + 1e-6 * double(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

double gemm_gflops(Stream& s, int64_t n, DType dt, bool tf32) {
  bool was = s.allow_tf32;
  s.allow_tf32 = tf32;
  Tensor a = Tensor::full({n, n}, 0.01, dt, s), b = Tensor::full({n, n}, 0.02, dt, s);
  Tensor c = Tensor::empty({n, n}, dt, s);
  double ms = time_ms(s, [&] { gemm(s, c, a, b, false, false); });
  s.allow_tf32 = was;
  return 2.0 * double(n) * double(n) * double(n) / (ms * 1e6);
}

struct Layer {
  const char* name;
  int64_t c, hw, o, k, stride, pad;
};
const Layer kResNet[] = {
    {"stem 3->64 32x32", 3, 32, 64, 3, 1, 1},   {"64->64 32x32", 64, 32, 64, 3, 1, 1},
    {"64->128 s2", 64, 32, 128, 3, 2, 1},       {"128->128 16x16", 128, 16, 128, 3, 1, 1},
    {"128->256 s2", 128, 16, 256, 3, 2, 1},     {"256->256 8x8", 256, 8, 256, 3, 1, 1},
    {"256->512 s2", 256, 8, 512, 3, 2, 1},      {"512->512 4x4", 512, 4, 512, 3, 1, 1},
    {"1x1 s2 64->128", 64, 32, 128, 1, 2, 0},   {"1x1 s2 128->256", 128, 16, 256, 1, 2, 0},
    {"1x1 s2 256->512", 256, 8, 512, 1, 2, 0},
};

void bench_conv(Stream& s, const Options& o, double gemm_ref, const char* ref_name) {
  std::printf("\n(b) conv2d, NCHW f32, batch %lld%s; rate relative to %s = %.1f GFLOP/s\n", (long long)o.batch,
              s.is_cuda() ? (s.allow_tf32 ? ", TF32 on" : ", TF32 off") : "", ref_name, gemm_ref);
  std::printf("%-18s %-18s | %9s %8s | %9s %8s | %9s %8s | %6s %6s %6s\n", "layer", "input", "fwd ms", "GFLOP/s",
              "dX ms", "GFLOP/s", "dW ms", "GFLOP/s", "fwd/G", "dX/G", "dW/G");
  double total_ms = 0, total_gflop = 0;
  for (const Layer& l : kResNet) {
    Tensor x = Tensor::full({o.batch, l.c, l.hw, l.hw}, 0.1, DType::f32, s);
    Tensor w = Tensor::full({l.o, l.c, l.k, l.k}, 0.01, DType::f32, s);
    Conv2dGeom g = conv2d_geometry(x, w, {.stride = l.stride, .padding = l.pad});
    Tensor y = Tensor::empty(g.y_shape(), DType::f32, s), dx = Tensor::empty(g.x_shape(), DType::f32, s);
    Tensor dw = Tensor::empty(g.w_shape(), DType::f32, s), gy = Tensor::full(g.y_shape(), 0.1, DType::f32, s);
    double gflop = 2.0 * double(conv2d_macs(g)) / 1e9;
    double fwd = time_ms(s, [&] { conv2d_forward(s, y, x, w, g); });
    double bwd_x = time_ms(s, [&] { conv2d_backward_data(s, dx, gy, w, g, 0.0); });
    double bwd_w = time_ms(s, [&] { conv2d_backward_filter(s, dw, gy, x, g, 0.0); });
    auto rate = [&](double ms) { return gflop / (ms * 1e-3); };
    std::string shape = Shape{o.batch, l.c, l.hw, l.hw}.str();
    std::printf("%-18s %-18s | %9.3f %8.1f | %9.3f %8.1f | %9.3f %8.1f | %6.2f %6.2f %6.2f\n", l.name, shape.c_str(),
                fwd, rate(fwd), bwd_x, rate(bwd_x), bwd_w, rate(bwd_w), rate(fwd) / gemm_ref, rate(bwd_x) / gemm_ref,
                rate(bwd_w) / gemm_ref);
    total_ms += fwd + bwd_x + bwd_w;
    total_gflop += 3 * gflop;
  }
  std::printf("%-37s | all passes of all layers: %.2f ms, %.1f GFLOP/s (%.2f of %s)\n", "total", total_ms,
              total_gflop / (total_ms * 1e-3), total_gflop / (total_ms * 1e-3) / gemm_ref, ref_name);
}

void bench_cpu(const Options& o) {
  Stream& s = Stream::cpu();
  const char* core = openblas_get_corename ? openblas_get_corename() : "unknown (not OpenBLAS)";
  std::printf("device: cpu, %d hardware threads (OpenBLAS GEMMs; im2col/col2im on a helper pool), "
              "OpenBLAS kernels: %s\n",
              cpu::hardware_threads(), core);
  // OpenBLAS builds with DYNAMIC_ARCH older than the CPU fall back to SSE3 "Prescott" kernels, ~4x slower
  // than AVX-512; the choice is made when the library loads, so only the environment can change it.
  if (std::string(core) == "Prescott")
    std::printf("note: OpenBLAS did not recognise this CPU; if it has AVX2/AVX-512, rerun with "
                "OPENBLAS_CORETYPE=Haswell or OPENBLAS_CORETYPE=SkylakeX\n");
  std::printf("\n(a) GEMM, square, f32 (CBLAS)\n%8s %10s\n", "n", "GFLOP/s");
  double best = 0;
  for (int64_t n : {1024, 2048}) {
    double r = gemm_gflops(s, n, DType::f32, false);
    best = std::max(best, r);
    std::printf("%8lld %10.1f\n", (long long)n, r);
  }
  auto wall0 = std::chrono::steady_clock::now();
  double cpu0 = process_cpu_seconds();
  bench_conv(s, o, best, "best CPU sgemm");
  double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
  std::printf("cores used during (b): %.2f of %d (CPU time / wall time; fewer means the machine was shared)\n",
              (process_cpu_seconds() - cpu0) / wall, cpu::hardware_threads());
}

#ifdef SP_HAVE_CUDA
void bench_cuda(const Options& o) {
  Stream& s = Stream::cuda_default(0);
  cudaDeviceProp prop{};
  SP_CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
  std::printf("device: cuda:0, %s\n", prop.name);
  std::printf("\n(a) GEMM, square (cuBLAS)\n%8s %12s %12s %12s\n", "n", "fp32 GF/s", "TF32 GF/s", "bf16 GF/s");
  double best_fp32 = 0, best_tf32 = 0;
  for (int64_t n : {4096, 8192}) {
    double f = gemm_gflops(s, n, DType::f32, false), t = gemm_gflops(s, n, DType::f32, true);
    double b = gemm_gflops(s, n, DType::bf16, false);
    best_fp32 = std::max(best_fp32, f);
    best_tf32 = std::max(best_tf32, t);
    std::printf("%8lld %12.1f %12.1f %12.1f\n", (long long)n, f, t, b);
  }
  s.allow_tf32 = o.tf32;
  bench_conv(s, o, o.tf32 ? best_tf32 : best_fp32, o.tf32 ? "best TF32 GEMM" : "best fp32 GEMM");

  std::printf("\n(c) device-to-device copy\n%10s %14s\n", "MiB", "GB/s (r+w)");
  for (int64_t mib : {64, 1024}) {
    int64_t n = mib * (1 << 20) / 4;
    Tensor a = Tensor::full({n}, 1.0, DType::f32, s), b = Tensor::empty({n}, DType::f32, s);
    double ms = time_ms(s, [&] { b.copy_(a, s); });
    std::printf("%10lld %14.1f\n", (long long)mib, 2.0 * double(n) * 4 / (ms * 1e6));
  }
}
#endif

}  // namespace

int main(int argc, char** argv) {
  sp::cpu::ensure_fast_blas(argv);
  Options o = parse(argc, argv);
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // rows appear as they are measured, also when piped
  try {
    if (!o.cuda) {
      bench_cpu(o);
      return 0;
    }
#ifdef SP_HAVE_CUDA
    std::string why;
    if (!cuda_available(&why)) usage(why.c_str());
    bench_cuda(o);
    return 0;
#else
    usage("this build has no CUDA backend");
#endif
  } catch (const Error& e) {
    std::fprintf(stderr, "sp_bench_kernels: %s\n", e.what());
    return 1;
  }
}
