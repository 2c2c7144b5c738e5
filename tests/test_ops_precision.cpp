// round_bf16 (kernels/round_bf16_math.h, nn/ops_precision.h): the rounding against hand-computed bf16 values
// (ties to even, the subnormal range, overflow, NaN, signed zeros), float and double agreeing on every float,
// the kernel's accumulation, the op's straight-through gradient (the incoming gradient rounded, as a bf16
// pipeline stores an activation's gradient) and its differentiable backward, and bad input.
#include <cmath>
#include <cstring>
#include <limits>

#include "kernels/round_bf16.h"
#include "kernels/round_bf16_math.h"
#include "nn/ops_precision.h"
#include "tests/test_util.h"

using namespace sp;
using namespace sp::test;

SP_GRAD_TESTED(round_bf16);
SP_GRAD2_TESTED(round_bf16);

namespace {

float from_bits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

}  // namespace

TEST(OpsPrecision, RoundsToTheNearestBf16WithTiesToEven) {
  struct Case {
    double x, want;
  };
  const double u = std::ldexp(1.0, -7);  // bf16's spacing in [1, 2)
  for (const Case& c : {Case{1.0, 1.0}, Case{1.0 + u / 2, 1.0},            // tie: down to the even 1.0
                        Case{1.0 + 3 * u / 2, 1.0 + 2 * u},                 // tie: up to the even 1 + 2u
                        Case{1.0 + u / 2 + 1e-9, 1.0 + u},                  // just past the tie
                        Case{-1.0 - 3 * u / 2, -1.0 - 2 * u}, Case{3.14159265, 3.140625},
                        Case{0x1.fep127, 0x1.fep127},                       // the largest finite bf16
                        Case{0x1.ffp127, INFINITY},                         // its tie with 2^128: even = infinity
                        Case{0x1.fefp127, 0x1.fep127},
                        Case{std::ldexp(1.0, -133), std::ldexp(1.0, -133)},  // the smallest subnormal
                        Case{std::ldexp(1.0, -134), 0.0},                   // half of it: tie to even zero
                        Case{std::ldexp(3.0, -134), std::ldexp(1.0, -132)},  // 1.5 quanta: tie to even 2
                        Case{std::ldexp(1.0, -126) * (1 + u), std::ldexp(1.0, -126) * (1 + u)}}) {
    EXPECT_EQ(prec::round_bf16(c.x), c.want) << std::hexfloat << c.x;
    EXPECT_EQ(prec::round_bf16(-c.x), -c.want) << std::hexfloat << -c.x;
    if (std::abs(c.x) <= std::numeric_limits<float>::max() && double(float(c.x)) == c.x)
      EXPECT_EQ(double(prec::round_bf16(float(c.x))), c.want) << std::hexfloat << c.x;
  }
  EXPECT_TRUE(std::isnan(prec::round_bf16(std::nan(""))));
  EXPECT_TRUE(std::isnan(prec::round_bf16(std::nanf(""))));
  EXPECT_EQ(prec::round_bf16(INFINITY), INFINITY);
  EXPECT_EQ(prec::round_bf16(-1e300), -INFINITY);
  EXPECT_TRUE(std::signbit(prec::round_bf16(-0.0)));
  EXPECT_TRUE(std::signbit(prec::round_bf16(-0.0f)));
}

TEST(OpsPrecision, FloatAndDoubleRoundingAgreeOnEveryKindOfFloat) {
  // Random bit patterns cover normals, subnormals, infinities and NaNs of every exponent.
  uint64_t state = 0x9E3779B97F4A7C15ull;
  for (int i = 0; i < 200000; ++i) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    const float f = from_bits(uint32_t(state >> 32));
    const float rf = prec::round_bf16(f);
    const double rd = prec::round_bf16(double(f));
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(rf) && std::isnan(rd));
      continue;
    }
    ASSERT_EQ(double(rf), rd) << std::hexfloat << f;
    uint32_t bits;
    std::memcpy(&bits, &rf, 4);
    ASSERT_EQ(bits & 0xffffu, 0u) << "not a bf16 value: " << std::hexfloat << rf;
  }
}

TEST(OpsPrecision, KernelRoundsAndAccumulates) {
  Tensor x = Tensor::from_vector<float>({1.0f + 0x1p-8f, 2.0f + 0x1p-6f + 0x1p-9f, -3.0f}, {3});
  Tensor y = Tensor::empty({3}, DType::f32);
  round_bf16(Stream::cpu(), y, x);
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{1.0f, 2.0f + 0x1p-6f, -3.0f}));
  round_bf16(Stream::cpu(), y, x, 1.0);  // y = round(x) + y
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{2.0f, 4.0f + 0x1p-5f, -6.0f}));
  // Larger than one parallel block, f64.
  Tensor big = randn({70000}, DType::f64, 3), out = Tensor::empty({70000}, DType::f64);
  round_bf16(Stream::cpu(), out, big);
  auto b = big.to_vector<double>(), o = out.to_vector<double>();
  for (size_t i = 0; i < b.size(); ++i) ASSERT_EQ(o[i], prec::round_bf16(b[i])) << i;
}

// The gradient is defined, not derived: the incoming gradient rounded (a bf16 step stores it so), which
// finite differences of a step function cannot check; the test states it directly, for first-order sweeps,
// recorded (create-graph) sweeps and accumulation into a shared input.
TEST(OpsPrecision, GradientIsTheIncomingGradientRounded) {
  Tensor x = randn({5, 7}, DType::f64, 1), r = randn({5, 7}, DType::f64, 2);
  Tape t(Stream::cpu());
  Var xv = t.leaf(x, true);
  Var y = ag::round_bf16(t, xv);
  std::vector<double> xs = x.to_vector<double>(), ys = t.value(y).to_vector<double>(), rs = r.to_vector<double>();
  for (size_t i = 0; i < xs.size(); ++i) ASSERT_EQ(ys[i], prec::round_bf16(xs[i]));
  std::vector<double> g = t.grad(y, {xv}, &r)[0].to_vector<double>();
  std::vector<double> gg = t.value(t.grad_graph(y, {xv}, t.leaf(r))[0]).to_vector<double>();
  for (size_t i = 0; i < rs.size(); ++i) {
    ASSERT_EQ(g[i], prec::round_bf16(rs[i])) << i;
    ASSERT_EQ(gg[i], g[i]) << i;
  }
  // Two uses of x: the two rounded gradients add.
  Tape t2(Stream::cpu());
  Var x2 = t2.leaf(x, true);
  Var z = ag::round_bf16(t2, ag::round_bf16(t2, x2));
  std::vector<double> g2 = t2.grad(z, {x2}, &r)[0].to_vector<double>();
  for (size_t i = 0; i < rs.size(); ++i) ASSERT_EQ(g2[i], prec::round_bf16(prec::round_bf16(rs[i]))) << i;
}

TEST(OpsPrecision, SecondOrder) {
  // The gradient does not depend on x, so every second derivative is zero; check_second_order also checks
  // that the recorded sweep (the op applied to the gradient) equals the first-order one.
  check_second_order({randn({4, 6}, DType::f64, 5)}, {true},
                     [](Tape& t, const std::vector<Var>& v) { return ag::round_bf16(t, v[0]); });
}

TEST(OpsPrecision, BadInputIsRefused) {
  expect_error_mentioning(
      [] { round_bf16(Stream::cpu(), Tensor::empty({3}, DType::f32), Tensor::empty({4}, DType::f32)); }, "round_bf16");
  expect_error_mentioning(
      [] { round_bf16(Stream::cpu(), Tensor::empty({3}, DType::f64), Tensor::empty({3}, DType::f32)); }, "f32 or f64");
  expect_error_mentioning(
      [] { round_bf16(Stream::cpu(), Tensor::empty({3}, DType::i32), Tensor::empty({3}, DType::i32)); }, "f32 or f64");
}
