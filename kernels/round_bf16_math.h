// Rounding to the nearest bfloat16 value while keeping the storage type: what precision "bf16" applies where a
// bf16 pipeline stores a tensor (nn/ops_precision.h), so the CPU pins the numbers a bf16 GPU step produces.
// Round to nearest, ties to even, at bf16's 8 significant bits (fewer below 2^-126, as its subnormals);
// NaN stays NaN, values past bf16's largest finite value (255 * 2^120) round to infinity, signs and zeros are
// kept. float goes through dtype.h's conversion; double is rounded directly (through float it could round
// twice). Shared by both backends; tested in tests/test_ops_precision.cpp.
#pragma once
#include <cmath>

#include "kernels/dtype.h"
#include "kernels/hd.h"

namespace sp::prec {

SP_HD float round_bf16(float x) { return bf16_to_float(float_to_bf16(x)); }

SP_HD double round_bf16(double x) {
  if (x != x || x == 0.0 || x - x != 0.0) return x;  // NaN, zeros, infinities (inf - inf is NaN)
  const double a = fabs(x);
  int e = 0;
  frexp(a, &e);                          // a = m 2^e, m in [0.5, 1): 8 bits end at 2^(e - 8)
  const int q = e - 8 > -133 ? e - 8 : -133;  // bf16's subnormal quantum is 2^-133
  double r = ldexp(rint(ldexp(a, -q)), q);    // rint: the default rounding mode, nearest even
  if (r > 0x1.fep127) r = INFINITY;          // 0x1.fep127 = 255 * 2^120, the largest finite bf16
  return x < 0 ? -r : r;
}

}  // namespace sp::prec
