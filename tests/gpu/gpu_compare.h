// Extra GPU-test helpers for the matmul/conv/pool tests: a scope that sets the shared GPU stream's TF32
// policy, and a comparison whose absolute tolerance scales with the reference's largest magnitude (for TF32,
// whose error is relative to the operands, not to each output), built on compare_backends_with.
#pragma once
#include "tests/gpu/gpu_test_util.h"

namespace sp::test {

class Tf32Scope {
 public:
  explicit Tf32Scope(bool on) : was_(gpu_stream().allow_tf32) { gpu_stream().allow_tf32 = on; }
  ~Tf32Scope() { gpu_stream().allow_tf32 = was_; }

 private:
  bool was_;
};

// |gpu - cpu| <= tol * (|cpu| + max |cpu|) elementwise, for the forward value and each input gradient.
inline void compare_backends_scaled(const std::vector<Tensor>& cpu_inputs, const std::vector<bool>& wrt,
                                    const OpFn& f, double tol, uint64_t seed = 99) {
  auto close = [&](const Tensor& got, const Tensor& want) {
    return all_close(got, want, tol, tol * max_abs(want), gpu_stream());
  };
  compare_backends_with(cpu_inputs, wrt, f, close, true, seed);
}

}  // namespace sp::test
