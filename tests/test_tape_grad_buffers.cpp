// Tape::grad's gradient buffers: a root's buffer starts uninitialised and only ranges no view wrote are
// zero-filled (views never used, overlapping views, one backward's sinks into overlapping ranges, a view used
// twice, the root used directly and through views, wrt roots and views, a root whose producer reads its
// gradient, a view as the loss), compared exactly with hand-derived gradients and with the same computation
// on separate leaves; the written-range bookkeeping (GradCover) on its own; the kernels a sweep dispatches
// (no fill when every view is written); the sign of a zero first contribution; and add's adoption of the
// incoming gradient (shared buffers copied before accumulation, never returned shared).
#include <cmath>
#include <cstring>

#include "kernels/axpby.h"
#include "kernels/registry.h"
#include "nn/grad_cover.h"
#include "nn/ops_elementwise.h"
#include "nn/ops_reduce.h"
#include "nn/ops_scale.h"
#include "nn/tape.h"
#include "tests/test_util.h"

using namespace sp;
using namespace sp::ag;
using V = std::vector<double>;

namespace {

Tensor vec(const V& v) { return Tensor::from_vector<double>(v, {int64_t(v.size())}); }
V values(const Tensor& t) { return t.to_vector<double>(); }
bool same_bytes(const Tensor& a, const Tensor& b) {
  Tensor ca = a.contiguous(), cb = b.contiguous();
  return ca.nbytes() == cb.nbytes() && std::memcmp(ca.raw_data(), cb.raw_data(), ca.nbytes()) == 0;
}

}  // namespace

TEST(GradCover, MergesAndFindsGaps) {
  GradCover c;
  EXPECT_TRUE(c.empty());
  EXPECT_FALSE(c.overlaps(0, 10));
  c.insert(4, 6);
  c.insert(0, 2);
  c.insert(8, 9);
  c.insert(3, 3);  // empty: ignored
  using R = std::vector<std::pair<int64_t, int64_t>>;
  EXPECT_EQ(c.runs(), (R{{0, 2}, {4, 6}, {8, 9}}));
  EXPECT_TRUE(c.overlaps(1, 3));
  EXPECT_FALSE(c.overlaps(2, 4));
  EXPECT_TRUE(c.covers(4, 6));
  EXPECT_FALSE(c.covers(1, 5));
  R gaps;
  c.for_each_gap(1, 10, [&](int64_t b, int64_t e) { gaps.push_back({b, e}); });
  EXPECT_EQ(gaps, (R{{2, 4}, {6, 8}, {9, 10}}));
  gaps.clear();
  c.for_each_gap(4, 6, [&](int64_t b, int64_t e) { gaps.push_back({b, e}); });
  EXPECT_TRUE(gaps.empty());
  c.insert(2, 4);  // touches both neighbours: one run
  EXPECT_EQ(c.runs(), (R{{0, 6}, {8, 9}}));
  c.insert(5, 12);
  EXPECT_EQ(c.runs(), (R{{0, 12}}));
  EXPECT_TRUE(c.covers(0, 12));
}

TEST(TapeGradBuffers, UnusedViewsGetExactZerosAndOnlyTheirGapsAreFilled) {
  Tape t(Stream::cpu());
  Var th = t.leaf(vec({1, 2, 3, 4, 5, 6, 7, 8, 9, 10}), true);
  Var a = t.view(th, 0, {3}), b = t.view(th, 3, {3}), c = t.view(th, 6, {2, 2});
  Var ka = t.leaf(vec({2, 4, 6}));
  Var pa = sum(t, mul(t, a, ka));
  Var pc = sum(t, scale(t, c, 2.0));
  Var loss = add(t, pa, pc);
  auto g = t.grad(loss, {th});
  EXPECT_EQ(values(g[0]), (V{2, 4, 6, 0, 0, 0, 2, 2, 2, 2}));
  EXPECT_EQ(t.grad_zero_filled(), 3);  // b's range, when theta's gradient is read
  // wrt the unused view alone: its zeros are filled, nothing else.
  auto gb = t.grad(loss, {b});
  EXPECT_EQ(values(gb[0]), (V{0, 0, 0}));
  EXPECT_EQ(t.grad_zero_filled(), 3);
  auto ga = t.grad(loss, {a, c});
  EXPECT_EQ(values(ga[0]), (V{2, 4, 6}));
  EXPECT_EQ(values(ga[1]), (V{2, 2, 2, 2}));
  EXPECT_EQ(t.grad_zero_filled(), 0);
}

TEST(TapeGradBuffers, EveryViewWrittenNeedsNoZeroFill) {
  Tape t(Stream::cpu());
  Var th = t.leaf(vec({1, 2, 3, 4, 5, 6}), true);
  Var a = t.view(th, 0, {2}), b = t.view(th, 2, {4});
  Var ca = t.leaf(vec({7, 8}));
  Var loss = add(t, sum(t, mul(t, a, ca)), sum(t, scale(t, b, -3.0)));
  auto g = t.grad(loss, {th, a, b});
  EXPECT_EQ(values(g[0]), (V{7, 8, -3, -3, -3, -3}));
  EXPECT_EQ(values(g[1]), (V{7, 8}));
  EXPECT_EQ(values(g[2]), (V{-3, -3, -3, -3}));
  EXPECT_EQ(t.grad_zero_filled(), 0);
  EXPECT_EQ(g[1].storage(), g[0].storage());  // views of the flat gradient, as before

  // The same sweep on separate leaves dispatches exactly as many kernels: no fill of the flat gradient.
  Tape u(Stream::cpu());
  Var la = u.leaf(vec({1, 2}), true), lb = u.leaf(vec({3, 4, 5, 6}), true), lca = u.leaf(vec({7, 8}));
  Var lloss = add(u, sum(u, mul(u, la, lca)), sum(u, scale(u, lb, -3.0)));
  uint64_t before = kernel_dispatches(Backend::CPU);
  u.grad(lloss, {la, lb});
  const uint64_t leaves = kernel_dispatches(Backend::CPU) - before;
  before = kernel_dispatches(Backend::CPU);
  t.grad(loss, {th, a, b});
  EXPECT_EQ(kernel_dispatches(Backend::CPU) - before, leaves);
}

// The one bit that differs from a zero-filled flat gradient: a view's first contribution of -0 stays -0 (as
// a separate leaf's always did) where 0 + -0 used to give +0. Equal as numbers, and an optimiser step
// p - lr g gives the same p for either sign unless p is -0.
TEST(TapeGradBuffers, AViewsFirstContributionKeepsTheSignOfZeroLikeALeaf) {
  Tape t(Stream::cpu());
  Var th = t.leaf(vec({1, 2, 3}), true);
  Var v = t.view(th, 0, {2});
  Var w = t.leaf(vec({-0.0, 4}));
  auto g = t.grad(sum(t, mul(t, v, w)), {th});
  const V got = values(g[0]);
  EXPECT_EQ(got, (V{0, 4, 0}));
  EXPECT_TRUE(std::signbit(got[0]));
  EXPECT_FALSE(std::signbit(got[2]));  // the unused element: zero-filled, +0
  Var x = t.leaf(vec({1, 2}), true);
  auto gx = t.grad(sum(t, mul(t, x, w)), {x});
  EXPECT_TRUE(std::signbit(values(gx[0])[0]));
}

TEST(TapeGradBuffers, OverlappingViewsSumAndAPartialOverlapFillsOnlyItsGap) {
  Tape t(Stream::cpu());
  Var th = t.leaf(vec({1, 2, 3, 4, 5, 6}), true);
  Var v1 = t.view(th, 0, {4}), v2 = t.view(th, 2, {4});
  // The sweep runs backwards: v2's contribution is written first (beta 0), v1's overlaps [2, 4) of it, so
  // [0, 2) is zero-filled before v1 accumulates.
  Var p1 = sum(t, scale(t, v1, 2.0));
  Var p2 = sum(t, scale(t, v2, 3.0));
  Var loss = add(t, p1, p2);
  auto g = t.grad(loss, {th});
  EXPECT_EQ(values(g[0]), (V{2, 2, 5, 5, 3, 3}));
  EXPECT_EQ(t.grad_zero_filled(), 2);
}

// An op whose backward fetches both sinks before writing either, and writes the second first: with inputs
// that are overlapping views (or a view and its root) neither may overwrite the other's contribution.
TEST(TapeGradBuffers, OneNodesSinksIntoOverlappingRangesAllAccumulate) {
  auto both_sinks_first = [](Tape& t, Var a, Var b) {
    Tensor y = t.value(a).clone();
    axpby(t.stream(), y, t.value(b), 1.0, 1.0);
    return t.record(
        "test_add", y, {a, b},
        [](BackwardCtx& c) {
          GradSink s0 = c.sink(0), s1 = c.sink(1);
          axpby(c.stream(), s1.t, c.grad_out(), 10.0, s1.beta);
          axpby(c.stream(), s0.t, c.grad_out(), 1.0, s0.beta);
        },
        {});
  };
  Tape t(Stream::cpu());
  Var th = t.leaf(vec({1, 2, 3, 4, 5}), true);
  Var v1 = t.view(th, 0, {3}), v2 = t.view(th, 1, {3});
  Tensor seed = vec({1, 2, 3});
  auto g = t.grad(both_sinks_first(t, v1, v2), {th}, &seed);
  EXPECT_EQ(values(g[0]), (V{1, 12, 23, 30, 0}));
  EXPECT_EQ(t.grad_zero_filled(), 5);  // [0, 4) before the backward, [4, 5) when theta is read
  Var whole = t.reshape(th, {5}), part = t.view(th, 2, {3});
  auto h = t.grad(both_sinks_first(t, part, t.view(whole, 1, {3})), {th}, &seed);
  EXPECT_EQ(values(h[0]), (V{0, 10, 21, 32, 3}));
  Tensor seed5 = vec({1, 2, 3, 4, 5});
  auto k = t.grad(both_sinks_first(t, th, whole), {th}, &seed5);  // the root itself and a view of all of it
  EXPECT_EQ(values(k[0]), (V{11, 22, 33, 44, 55}));
}

// v * v hands one backward two sinks into v's range: if nothing wrote it before, it is zero-filled first
// (both sinks accumulate, as with the zero-filled flat gradient).
TEST(TapeGradBuffers, AViewUsedTwiceAccumulates) {
  for (bool square_last : {false, true}) {
    Tape t(Stream::cpu());
    Var th = t.leaf(vec({1, 2, 3, 4}), true);
    Var v = t.view(th, 1, {2});
    Var sq, lin;
    if (square_last) {
      lin = sum(t, scale(t, v, 3.0));
      sq = sum(t, mul(t, v, v));
    } else {
      sq = sum(t, mul(t, v, v));
      lin = sum(t, scale(t, v, 3.0));
    }
    auto g = t.grad(add(t, sq, lin), {th, v});
    EXPECT_EQ(values(g[0]), (V{0, 7, 9, 0})) << square_last;  // 2 v + 3
    EXPECT_EQ(values(g[1]), (V{7, 9})) << square_last;
    EXPECT_EQ(t.grad_zero_filled(), square_last ? 4 : 2) << square_last;
  }
}

TEST(TapeGradBuffers, RootUsedDirectlyAndThroughViewsInEitherOrder) {
  for (bool root_last : {false, true}) {
    Tape t(Stream::cpu());
    Var th = t.leaf(vec({1, 2, 3, 4}), true);
    Var v = t.view(th, 2, {2});
    Var direct, through;
    if (root_last) {
      through = sum(t, scale(t, v, 5.0));
      direct = sum(t, mul(t, th, th));
    } else {
      direct = sum(t, mul(t, th, th));
      through = sum(t, scale(t, v, 5.0));
    }
    auto g = t.grad(add(t, direct, through), {th, v});
    EXPECT_EQ(values(g[0]), (V{2, 4, 11, 13})) << root_last;
    EXPECT_EQ(values(g[1]), (V{11, 13})) << root_last;
    // Written first, the direct use covers everything; written after the view, it fills the rest first.
    EXPECT_EQ(t.grad_zero_filled(), root_last ? 0 : 2) << root_last;
  }
}

// theta1 = theta0 * m, a root whose views feed the loss: mul's backward reads theta1's whole gradient, so
// the range no view wrote must read as zeros (a meta-gradient through an unrolled step looks like this).
TEST(TapeGradBuffers, ARootsProducerReadsItsGradientWithGapsZeroed) {
  Tape t(Stream::cpu());
  Var th0 = t.leaf(vec({1, 2, 3, 4, 5}), true);
  Var m = t.leaf(vec({2, 3, 4, 5, 6}));
  Var th1 = mul(t, th0, m);
  Var w1 = t.view(th1, 0, {2}), w3 = t.view(th1, 4, {1});
  t.view(th1, 2, {2});  // never used
  Var p1 = sum(t, mul(t, w1, w1));
  Var p3 = sum(t, scale(t, w3, -1.0));
  auto g = t.grad(add(t, p1, p3), {th0, th1, w1});
  // d/dth1 = (2 w1, 0, 0, -1) with w1 = (2, 6); d/dth0 = m * that.
  EXPECT_EQ(values(g[1]), (V{4, 12, 0, 0, -1}));
  EXPECT_EQ(values(g[0]), (V{8, 36, 0, 0, -6}));
  EXPECT_EQ(values(g[2]), (V{4, 12}));
  // w1's range before w1 * w1's backward, [2, 4) before th1's producer reads it; the wrt reads find all written.
  EXPECT_EQ(t.grad_zero_filled(), 4);
}

TEST(TapeGradBuffers, AViewAsTheLossStartsItsRootsGradient) {
  Tape t(Stream::cpu());
  Var x = t.leaf(vec({1, 2, 3, 4}), true);
  Var y = scale(t, x, 2.0);
  Var l = t.view(y, 1, {2});
  Tensor seed = vec({10, 20});
  auto g = t.grad(l, {x, y, l}, &seed);
  EXPECT_EQ(values(g[0]), (V{0, 20, 40, 0}));
  EXPECT_EQ(values(g[1]), (V{0, 10, 20, 0}));
  EXPECT_EQ(values(g[2]), (V{10, 20}));
  EXPECT_EQ(values(seed), (V{10, 20}));
}

// The flat gradient through views equals, byte for byte, the gradients of the same computation on separate
// leaves (whose buffers were always written with beta 0 first), including the sign of exact zeros.
TEST(TapeGradBuffers, ViewsMatchSeparateLeavesBitForBit) {
  for (DType dt : {DType::f32, DType::f64}) {
    Tensor w = test::randn({3, 4}, dt, 1), bias = test::randn({4}, dt, 2), u = test::randn({4}, dt, 3);
    Tensor x = test::randn({5, 3}, dt, 4);
    // h (3) scales W's rows, U and B act on the column sums; relu makes exact zeros.
    auto loss_of = [&](Tape& t, Var W, Var B, Var U) {
      Var h = t.reshape(sum(t, t.leaf(x), {0}), {3, 1});
      Var z = add(t, mul(t, sum(t, mul(t, h, W), {0}), U), B);
      return sum(t, mul(t, relu(t, z), z));
    };
    Tape ref(Stream::cpu());
    Var W = ref.leaf(w, true), B = ref.leaf(bias, true), U = ref.leaf(u, true), unused = ref.leaf(u, true);
    auto gr = ref.grad(loss_of(ref, W, B, U), {W, B, U, unused});

    Tape t(Stream::cpu());
    Tensor flat = Tensor::empty({24}, dt);
    flat.slice(0, 0, 12).copy_(w.flatten());
    flat.slice(0, 12, 16).copy_(bias);
    flat.slice(0, 16, 20).copy_(u);
    flat.slice(0, 20, 24).copy_(u);
    Var th = t.leaf(flat, true);
    Var Wv = t.view(th, 0, {3, 4}), Bv = t.view(th, 12, {4}), Uv = t.view(th, 16, {4});
    t.view(th, 20, {4});  // never used
    auto gv = t.grad(loss_of(t, Wv, Bv, Uv), {th});
    EXPECT_TRUE(same_bytes(gv[0].slice(0, 0, 12), gr[0].flatten()));
    EXPECT_TRUE(same_bytes(gv[0].slice(0, 12, 16), gr[1]));
    EXPECT_TRUE(same_bytes(gv[0].slice(0, 16, 20), gr[2]));
    EXPECT_TRUE(same_bytes(gv[0].slice(0, 20, 24), gr[3]));
    EXPECT_EQ(t.grad_zero_filled(), 4);
  }
}

// y = a + b recorded after another use of a and b: add's backward hands both the incoming gradient's buffer,
// then mul accumulates into each. The first accumulation must copy (b still holds the buffer), the second
// may write in place; the values are those of plain accumulation.
TEST(TapeGradBuffers, AddAdoptsTheIncomingGradientAndCopiesOnWrite) {
  Tape t(Stream::cpu());
  Var x = t.leaf(vec({1, 2, 3}), true);
  Var a = scale(t, x, 2.0), b = scale(t, x, 3.0);  // a = 2x, b = 3x
  Var q = mul(t, a, b);
  Var y = add(t, a, b);
  Var py = sum(t, mul(t, y, y));
  Var pq = sum(t, q);
  auto g = t.grad(add(t, py, pq), {x, a, b});
  // dL/da = 2y + b = 13x, dL/db = 2y + a = 12x with y = 5x; L = 31 x^2, dL/dx = 62x.
  EXPECT_EQ(values(g[1]), (V{13, 26, 39}));
  EXPECT_EQ(values(g[2]), (V{12, 24, 36}));
  EXPECT_EQ(values(g[0]), (V{62, 124, 186}));
  EXPECT_NE(g[1].storage(), g[2].storage());
}

// Both inputs adopt and nothing accumulates: the gradients returned are still separate buffers, and neither
// is the caller's seed.
TEST(TapeGradBuffers, AdoptedGradientsAreNeverReturnedShared) {
  Tape t(Stream::cpu());
  Var a = t.leaf(vec({1, 2}), true), b = t.leaf(vec({3, 4}), true);
  Var y = add(t, a, b);
  Tensor seed = vec({5, 7});
  auto g = t.grad(y, {a, b, y}, &seed);
  EXPECT_EQ(values(g[0]), (V{5, 7}));
  EXPECT_EQ(values(g[1]), (V{5, 7}));
  EXPECT_NE(g[0].storage(), g[1].storage());
  EXPECT_NE(g[0].storage(), seed.storage());
  EXPECT_NE(g[1].storage(), seed.storage());
  g[0].fill_(0.0);
  EXPECT_EQ(values(g[1]), (V{5, 7}));
  EXPECT_EQ(values(seed), (V{5, 7}));
  // a + a: the second input accumulates into the first's adopted buffer, which the seed still holds.
  Var z = add(t, a, a);
  auto h = t.grad(z, {a}, &seed);
  EXPECT_EQ(values(h[0]), (V{10, 14}));
  EXPECT_EQ(values(seed), (V{5, 7}));
  // A residual block: r = x + relu(x) + ... where relu reads the buffer its input shares.
  Var x = t.leaf(vec({-1, 2}), true);
  Var r = add(t, x, relu(t, x));
  auto k = t.grad(r, {x}, &seed);
  EXPECT_EQ(values(k[0]), (V{5, 14}));
  EXPECT_EQ(values(seed), (V{5, 7}));
}

// sub adopts only for its first input; the second gets -g.
TEST(TapeGradBuffers, SubAdoptsOnlyItsFirstInput) {
  Tape t(Stream::cpu());
  Var a = t.leaf(vec({1, 2}), true), b = t.leaf(vec({3, 4}), true);
  Var y = sub(t, a, b);
  auto g = t.grad(sum(t, mul(t, y, y)), {a, b});
  EXPECT_EQ(values(g[0]), (V{-4, -4}));
  EXPECT_EQ(values(g[1]), (V{4, 4}));
}
