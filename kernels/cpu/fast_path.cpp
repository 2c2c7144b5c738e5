// The float32 fast-path switch (see fast_path.h).
#include "kernels/cpu/fast_path.h"

#include <atomic>

#include "kernels/cpu/parallel.h"
#include "kernels/env_flag.h"
#if SP_HAVE_DNNL
#include "kernels/cpu/dnnl_util.h"
#endif

namespace sp::cpu {
namespace {
std::atomic<bool>& state() {
  static std::atomic<bool> on{env_switch("SP_CPU_FAST", true)};
  return on;
}
}  // namespace

bool dnnl_built() { return SP_HAVE_DNNL != 0; }

bool fast_path() { return state().load(std::memory_order_relaxed); }

void set_fast_path(bool on) { state().store(on); }

std::string describe_cpu_kernels() {
  const int n = hardware_threads();
  std::string threads = std::to_string(n) + (n == 1 ? " thread" : " threads");
  if (!fast_path()) return "float32 on the reference kernels (SP_CPU_FAST=0), " + threads;
#if SP_HAVE_DNNL
  return "float32 fast path (convolutions on " + dnnl_rt::describe() + ")";
#else
  return "float32 fast path (convolutions on im2col + OpenBLAS: built without oneDNN), " + threads;
#endif
}

}  // namespace sp::cpu
