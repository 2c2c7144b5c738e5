// Counter-based RNG (kernels/counter_rng.h): Philox4x32-10 known-answer vectors from Random123, stream
// independence and reproducibility, unbiased bounded integers (chi-square), float ranges.
#include "kernels/counter_rng.h"
#include "tests/data_test_util.h"

using namespace sp;
using namespace sp::crng;

TEST(DataRng, PhiloxKnownAnswers) {
  // Random123's kat_vectors for philox4x32_10.
  U32x4 a = philox4x32_10(U32x4{{0, 0, 0, 0}}, 0, 0);
  EXPECT_EQ(a.v[0], 0x6627e8d5u);
  EXPECT_EQ(a.v[1], 0xe169c58du);
  EXPECT_EQ(a.v[2], 0xbc57ac4cu);
  EXPECT_EQ(a.v[3], 0x9b00dbd8u);
  U32x4 b = philox4x32_10(U32x4{{0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}}, 0xffffffffu, 0xffffffffu);
  EXPECT_EQ(b.v[0], 0x408f276du);
  EXPECT_EQ(b.v[1], 0x41c83b0eu);
  EXPECT_EQ(b.v[2], 0xa20bc7c6u);
  EXPECT_EQ(b.v[3], 0x6d5451fdu);
  U32x4 c = philox4x32_10(U32x4{{0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}}, 0xa4093822u, 0x299f31d0u);
  EXPECT_EQ(c.v[0], 0xd16cfe09u);
  EXPECT_EQ(c.v[1], 0x94fdccebu);
  EXPECT_EQ(c.v[2], 0x5001e420u);
  EXPECT_EQ(c.v[3], 0x24126ea1u);
}

TEST(DataRng, Mix64IsSplitmix) {
  // splitmix64 seeded with 0: first output (state advanced by the golden gamma before mixing).
  EXPECT_EQ(mix64(0), 0xe220a8397b1dcdafull);
  EXPECT_NE(derive_key(1, 2), derive_key(2, 1));
}

TEST(DataRng, StreamsAreReproducibleAndDistinct) {
  Stream32 a(derive_key(7, 1), 3), b(derive_key(7, 1), 3), c(derive_key(7, 1), 4), d(derive_key(8, 1), 3);
  int same_c = 0, same_d = 0;
  for (int i = 0; i < 1000; ++i) {
    uint32_t x = a.next_u32();
    EXPECT_EQ(x, b.next_u32());
    same_c += x == c.next_u32();
    same_d += x == d.next_u32();
  }
  EXPECT_LE(same_c, 1);
  EXPECT_LE(same_d, 1);
}

TEST(DataRng, BoundedIntegersAreUniform) {
  Stream32 s(derive_key(11, 0), 0);
  for (uint32_t n : {1u, 2u, 7u, 9u, 10u, 1000u}) {
    std::vector<int64_t> counts(n, 0);
    int draws = int(n) * 400;
    for (int i = 0; i < draws; ++i) {
      uint32_t v = s.below(n);
      ASSERT_LT(v, n);
      ++counts[v];
    }
    if (n > 1) EXPECT_GT(test::chi_square_p_value(test::chi_square_uniform(counts), int(n) - 1), 1e-4) << "n=" << n;
  }
  // A bound just above 2^31 is where a plain modulo would be most biased: the top half would be half as likely.
  uint32_t big = 0x80000001u;
  int64_t upper = 0;
  for (int i = 0; i < 20000; ++i) upper += s.below(big) >= big / 2;
  EXPECT_NEAR(double(upper) / 20000, 0.5, 0.02);
  for (int i = 0; i < 1000; ++i) EXPECT_LT(s.below64(5000000000ull), 5000000000ull);
}

TEST(DataRng, FloatsInRange) {
  Stream32 s(derive_key(3, 3), 9);
  double sum = 0;
  for (int i = 0; i < 100000; ++i) {
    float f = s.uniform_f();
    double d = s.uniform_d();
    ASSERT_GE(f, 0.0f);
    ASSERT_LT(f, 1.0f);
    ASSERT_GE(d, 0.0);
    ASSERT_LT(d, 1.0);
    sum += f;
  }
  EXPECT_NEAR(sum / 100000, 0.5, 0.005);
}
