// Helpers for GPU tests: skip with a printed reason when no GPU is present, a shared CUDA stream, and
// run-on-both-backends comparison of an op (same inputs, CPU result is the reference).
#pragma once
#include "tests/test_util.h"

namespace sp::test {

inline Stream& gpu_stream() { return Stream::cuda_default(0); }

// f runs on a tape over the given stream with inputs already on that stream's device and returns its
// output(s); compare_backends checks CUDA against CPU, forward and (when `grads`) the input gradients.
using OpFn = std::function<Var(Tape&, const std::vector<Var>&)>;

// How a CUDA result `got` is judged against its CPU reference `want`.
using CloseFn = std::function<::testing::AssertionResult(const Tensor& got, const Tensor& want)>;

// Runs f on a CPU and a CUDA tape over the same inputs and checks with `close` the forward value and (when
// `grads`) the gradient of each input marked in `wrt` for one random output cotangent.
inline void compare_backends_with(const std::vector<Tensor>& cpu_inputs, const std::vector<bool>& wrt, const OpFn& f,
                                  const CloseFn& close, bool grads, uint64_t seed) {
  Stream& g = gpu_stream();
  Tape tc(Stream::cpu()), tg(g);
  std::vector<Var> vc, vg, wc, wg;
  for (size_t i = 0; i < cpu_inputs.size(); ++i) {
    vc.push_back(tc.leaf(cpu_inputs[i], wrt[i]));
    vg.push_back(tg.leaf(cpu_inputs[i].to(g.device(), g), wrt[i]));
    if (wrt[i]) {
      wc.push_back(vc.back());
      wg.push_back(vg.back());
    }
  }
  Var oc = f(tc, vc), og = f(tg, vg);
  EXPECT_TRUE(close(tg.value(og), tc.value(oc))) << "forward";
  if (!grads || wc.empty()) return;
  Tensor R = randn(tc.value(oc).shape(), tc.value(oc).dtype(), seed);
  Tensor Rg = R.to(g.device(), g);
  auto gc = tc.grad(oc, wc, &R);
  auto gg = tg.grad(og, wg, &Rg);
  for (size_t i = 0; i < gc.size(); ++i) EXPECT_TRUE(close(gg[i], gc[i])) << "gradient of input " << i;
}

inline void compare_backends(const std::vector<Tensor>& cpu_inputs, const std::vector<bool>& wrt, const OpFn& f,
                             double rtol, double atol, bool grads = true, uint64_t seed = 99) {
  auto close = [&](const Tensor& got, const Tensor& want) { return all_close(got, want, rtol, atol, gpu_stream()); };
  compare_backends_with(cpu_inputs, wrt, f, close, grads, seed);
}

}  // namespace sp::test

#define SP_REQUIRE_GPU()                                          \
  do {                                                            \
    std::string sp_why_;                                          \
    if (!::sp::cuda_available(&sp_why_)) GTEST_SKIP() << sp_why_; \
  } while (0)
