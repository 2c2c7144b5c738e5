// Row loops shared by the float32 fast paths of the normalisation kernels (kernels/cpu/batchnorm_fast.cpp,
// groupnorm_fast.cpp): sums in eight independent float lanes, which the compiler vectorises without
// reassociating one long sum, returned in double; the variance from a sum of squares centred on the float
// mean; and the two per-element maps, y = scale x + shift and the input gradient. A row is one image's plane
// or group (at most a few thousand values), where the float lanes lose nothing that matters; callers add rows
// in double. Tested through tests/test_cpu_fast_path.cpp.
#pragma once
#include <algorithm>
#include <cstdint>

#include "kernels/norm_math.h"

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

// Biased variance of `count` values with mean m from ss, their sum of squares about mf = float(m): corrected
// for mf's rounding (sum (x - mf)^2 = sum (x - m)^2 + count (m - mf)^2).
inline double centred_variance(double ss, double count, double m, float mf) {
  const double e = m - double(mf);
  return std::max(0.0, ss / count - e * e);
}

// o = scale x + shift over a row of n values.
inline void affine_row(float* o, const float* x, int64_t n, float scale, float shift) {
  for (int64_t i = 0; i < n; ++i) o[i] = x[i] * scale + shift;
}

// o = epilogue(scale x + shift [+ r]) over a row (r may be nullptr): one loop per case, so each vectorises
// and plain batch norm is affine_row's loop.
inline void affine_epilogue_row(float* o, const float* x, const float* r, int64_t n, float scale, float shift,
                                bool relu) {
  if (!r && !relu) return affine_row(o, x, n, scale, shift);
  if (!r) {
    for (int64_t i = 0; i < n; ++i) o[i] = norm_epilogue(x[i] * scale + shift, true);
  } else if (!relu) {
    for (int64_t i = 0; i < n; ++i) o[i] = x[i] * scale + shift + r[i];
  } else {
    for (int64_t i = 0; i < n; ++i) o[i] = norm_epilogue(x[i] * scale + shift + r[i], true);
  }
}

// g = dy where y > 0, else 0 (the gradient through the epilogue's ReLU).
inline void relu_mask_row(float* g, const float* dy, const float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) g[i] = norm_epilogue_grad(dy[i], y[i], true);
}

// o = g + beta o (beta 0: o may hold anything).
inline void store_grad_row(float* o, const float* g, int64_t n, float beta) {
  if (beta == 0.f) {
    std::copy(g, g + n, o);
  } else {
    for (int64_t i = 0; i < n; ++i) o[i] = g[i] + beta * o[i];
  }
}

// o = a dy + b (x - mean) + k (+ beta o): a normalisation's input gradient with its per-row coefficients.
inline void input_grad_row(float* o, const float* dy, const float* x, int64_t n, float a, float b, float mean,
                           float k, float beta) {
  if (beta == 0.f) {
    for (int64_t i = 0; i < n; ++i) o[i] = a * dy[i] + b * (x[i] - mean) + k;
  } else {
    for (int64_t i = 0; i < n; ++i) o[i] = a * dy[i] + b * (x[i] - mean) + k + beta * o[i];
  }
}

}  // namespace sp::cpu
