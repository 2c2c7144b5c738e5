// Extra GPU-test helpers for the matmul/conv/pool tests: a scope that sets the shared GPU stream's TF32
// policy, a comparison whose absolute tolerance scales with the reference's largest magnitude (for TF32,
// whose error is relative to the operands, not to each output), and a kernel-level CPU-vs-CUDA check.
#pragma once
#include <algorithm>
#include <cmath>

#include "tests/gpu/gpu_test_util.h"

namespace sp::test {

class Tf32Scope {
 public:
  explicit Tf32Scope(bool on) : was_(gpu_stream().allow_tf32) { gpu_stream().allow_tf32 = on; }
  ~Tf32Scope() { gpu_stream().allow_tf32 = was_; }

 private:
  bool was_;
};

inline double max_abs(const Tensor& t) {
  double m = 0;
  for (double v : as_doubles(t)) m = std::max(m, std::abs(v));
  return m;
}

// |gpu - cpu| <= tol * (|cpu| + max |cpu|) elementwise, for the forward value and each input gradient.
inline void compare_backends_scaled(const std::vector<Tensor>& cpu_inputs, const std::vector<bool>& wrt,
                                    const OpFn& f, double tol, uint64_t seed = 99) {
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
  const Tensor& yc = tc.value(oc);
  EXPECT_TRUE(all_close(tg.value(og), yc, tol, tol * max_abs(yc), g)) << "forward";
  Tensor R = randn(yc.shape(), yc.dtype(), seed);
  Tensor Rg = R.to(g.device(), g);
  auto gc = tc.grad(oc, wc, &R);
  auto gg = tg.grad(og, wg, &Rg);
  for (size_t i = 0; i < gc.size(); ++i)
    EXPECT_TRUE(all_close(gg[i], gc[i], tol, tol * max_abs(gc[i]), g)) << "gradient of input " << i;
}

}  // namespace sp::test
