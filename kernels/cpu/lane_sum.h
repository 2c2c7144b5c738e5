// Sums for the float32 fast paths of the normalisation kernels (kernels/cpu/batchnorm_fast.cpp,
// groupnorm_fast.cpp): eight independent float lanes, which the compiler vectorises without reassociating one
// long sum, returned in double. Meant for one image's plane or group (at most a few thousand values), where
// the float lanes lose nothing that matters; callers add rows in double. Tested through
// tests/test_cpu_fast_path.cpp.
#pragma once
#include <cstdint>

namespace sp::cpu {

// Sum of f(i) for i in [0, n).
template <class F>
double lane_sum(int64_t n, F&& f) {
  constexpr int kLanes = 8;
  float acc[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int k = 0; k < kLanes; ++k) acc[k] += f(i + k);
  double s = 0;
  for (; i < n; ++i) s += double(f(i));
  for (float a : acc) s += double(a);
  return s;
}

}  // namespace sp::cpu
