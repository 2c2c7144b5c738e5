// Integer division by a divisor fixed at launch (channel and row index math in the norm and loss
// kernels). On the GPU a 64-bit `/` is a long software routine that would cost more than the memory
// traffic of these bandwidth-bound kernels, so IndexDiv divides with a multiply-high and a shift
// (Granlund-Montgomery) whenever numerator and divisor fit in 31 bits, and falls back to `/` otherwise.
// Tested exhaustively on small ranges and randomly on large ones in tests/test_fast_div.cpp.
#pragma once
#include <cstdint>

#include "kernels/error.h"
#include "kernels/hd.h"

namespace sp {

// n / d for 0 <= n < 2^31 and 1 <= d < 2^31: q = (umulhi(n, m) + n) >> shift, where
// 2^shift >= d > 2^(shift-1) and m = floor(2^32 (2^shift - d) / d) + 1.
struct FastDivU32 {
  uint32_t m = 1;
  uint32_t shift = 0;
  FastDivU32() = default;
  explicit FastDivU32(uint32_t d) {
    SP_CHECK(d >= 1 && d < (1u << 31), "FastDivU32: divisor ", d, " outside [1, 2^31)");
    while ((uint64_t(1) << shift) < d) ++shift;
    m = uint32_t((uint64_t(1) << 32) * ((uint64_t(1) << shift) - d) / d + 1);
  }
  SP_HD uint32_t div(uint32_t n) const {
#ifdef __CUDA_ARCH__
    uint32_t t = __umulhi(n, m);
#else
    uint32_t t = uint32_t((uint64_t(n) * m) >> 32);
#endif
    return (t + n) >> shift;  // t <= n < 2^31: no overflow
  }
};

// Division of indices in [0, max_numerator] by d; the branch is uniform across a launch.
struct IndexDiv {
  int64_t d = 1;
  FastDivU32 fast;
  bool use_fast = true;
  IndexDiv() = default;
  IndexDiv(int64_t divisor, int64_t max_numerator) : d(divisor) {
    SP_CHECK(divisor >= 1, "IndexDiv: divisor ", divisor, " must be >= 1");
    constexpr int64_t kLimit = int64_t(1) << 31;
    use_fast = divisor < kLimit && max_numerator < kLimit;
    if (use_fast) fast = FastDivU32(uint32_t(divisor));
  }
  SP_HD int64_t div(int64_t n) const { return use_fast ? int64_t(fast.div(uint32_t(n))) : n / d; }
};

}  // namespace sp
