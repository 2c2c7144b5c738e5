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

// The double backward on both backends: with random R (output cotangent) and V_i (per input), the gradients
// g_i = d<R, f>/dx_i by Tape::grad_graph, then d(sum_i <g_i, V_i>)/dx_j by Tape::grad; CUDA is checked
// against the CPU for the g_i and the second derivatives.
inline void compare_double_backward(const std::vector<Tensor>& cpu_inputs, const std::vector<bool>& wrt,
                                    const OpFn& f, double rtol, double atol, uint64_t seed = 77) {
  Stream& gs = gpu_stream();
  auto run = [&](Stream& s, std::vector<Tensor>& first, std::vector<Tensor>& second) {
    Tape t(s);
    std::vector<Var> vs, wv;
    for (size_t i = 0; i < cpu_inputs.size(); ++i) {
      vs.push_back(t.leaf(cpu_inputs[i].to(s.device(), s), wrt[i]));
      if (wrt[i]) wv.push_back(vs.back());
    }
    Var out = f(t, vs);
    Tensor R = randn(t.value(out).shape(), t.value(out).dtype(), seed).to(s.device(), s);
    std::vector<Var> g = t.grad_graph(out, wv, t.leaf(R));
    Var h;
    for (size_t k = 0; k < g.size(); ++k) {
      const Tensor& gk = t.value(g[k]);
      first.push_back(gk);
      Var term = ag_dot(t, g[k], t.leaf(randn(gk.shape(), gk.dtype(), seed + 1 + k).to(s.device(), s)));
      h = h.valid() ? ag_add(t, h, term) : term;
    }
    if (h.valid() && t.requires_grad(h)) second = t.grad(h, wv);
  };
  std::vector<Tensor> fc, sc, fg, sg;
  run(Stream::cpu(), fc, sc);
  run(gs, fg, sg);
  ASSERT_EQ(fc.size(), fg.size());
  ASSERT_EQ(sc.size(), sg.size());
  for (size_t i = 0; i < fc.size(); ++i) EXPECT_TRUE(all_close(fg[i], fc[i], rtol, atol, gs)) << "grad_graph " << i;
  for (size_t i = 0; i < sc.size(); ++i) EXPECT_TRUE(all_close(sg[i], sc[i], rtol, atol, gs)) << "second order " << i;
}

}  // namespace sp::test

#define SP_BACKEND2_TESTED(name) \
  static ::sp::test::CoverageMark SP_BACKEND2_MARK_##name(::sp::test::backend2_tested_ops(), #name)

#define SP_REQUIRE_GPU()                                          \
  do {                                                            \
    std::string sp_why_;                                          \
    if (!::sp::cuda_available(&sp_why_)) GTEST_SKIP() << sp_why_; \
  } while (0)
