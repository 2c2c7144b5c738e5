// FastDivU32 / IndexDiv / ChannelOf (kernels/fast_div.h, kernels/norm_math.h): the multiply-shift
// division must equal `/` for every numerator and divisor it is used with.
#include <random>

#include "kernels/fast_div.h"
#include "kernels/norm_math.h"
#include "tests/test_util.h"

using namespace sp;

TEST(FastDiv, ExhaustiveSmall) {
  for (uint32_t d = 1; d <= 300; ++d) {
    FastDivU32 f(d);
    for (uint32_t n = 0; n <= 5000; ++n) ASSERT_EQ(f.div(n), n / d) << n << " / " << d;
  }
}

TEST(FastDiv, EdgesAndRandomLarge) {
  const uint32_t max = (1u << 31) - 1;
  std::vector<uint32_t> ds = {
      1, 2, 3, 7, 1000, 1024, 1025, 65535, 65536, 65537, (1u << 30) - 1, 1u << 30, (1u << 30) + 1, max};
  std::vector<uint32_t> ns = {0, 1, max, max - 1, 1u << 30, (1u << 30) - 1, 123456789};
  std::mt19937_64 g(5);
  for (int k = 0; k < 200; ++k) ds.push_back(1 + uint32_t(g() % max));
  for (uint32_t d : ds) {
    FastDivU32 f(d);
    for (uint32_t n : ns) ASSERT_EQ(f.div(n), n / d) << n << " / " << d;
    for (int k = 0; k < 200; ++k) {
      uint32_t n = uint32_t(g() % (uint64_t(max) + 1));
      ASSERT_EQ(f.div(n), n / d) << n << " / " << d;
      // Either side of a multiple of d, where an off-by-one rounding would show.
      uint64_t multiple = uint64_t(n / d) * d;
      for (uint64_t m : {multiple - 1, multiple, multiple + 1})
        if (m <= max) ASSERT_EQ(f.div(uint32_t(m)), uint32_t(m) / d) << m << " / " << d;
    }
  }
  EXPECT_THROW(FastDivU32(0), Error);
  EXPECT_THROW(FastDivU32(1u << 31), Error);
}

TEST(FastDiv, IndexDivFallsBackBeyond31Bits) {
  IndexDiv small(7, 1000);
  EXPECT_TRUE(small.use_fast);
  EXPECT_EQ(small.div(999), 142);
  IndexDiv big(7, int64_t(1) << 33);
  EXPECT_FALSE(big.use_fast);
  EXPECT_EQ(big.div((int64_t(1) << 33) - 1), ((int64_t(1) << 33) - 1) / 7);
  EXPECT_THROW(IndexDiv(0, 10), Error);
}

TEST(FastDiv, ChannelOfMatchesNaiveIndexing) {
  NormDims d;
  d.N = 3;
  d.C = 5;
  d.HW = 7;
  ChannelOf ch(d);
  for (int64_t k = 0; k < d.numel(); ++k) ASSERT_EQ(ch(k), (k / d.HW) % d.C) << k;
}
