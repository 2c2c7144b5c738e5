// batch_norm_act and group_norm_act, normalisation with its fused epilogue (residual add, ReLU): against the
// unfused composition norm -> add -> relu on the same tape, in f64 (values and first-order gradients of every input, to
// roundoff) and on the float32 fast path (bit-identical: the fused kernels do the same float operations in
// the same order), batch norm NCHW and channels last, training and eval, group and instance norm, each
// epilogue part alone and together;
// finite-difference checks of the first and second order; a residual that is x itself or overlaps it
// through views of one root; bad input.
#include <cstring>

#include "nn/ops_elementwise.h"
#include "nn/ops_loss.h"
#include "nn/ops_norm.h"
#include "nn/ops_shape.h"
#include "tests/fast_path_scope.h"
#include "tests/test_util.h"

using namespace sp;
using namespace sp::ag;
using namespace sp::test;

SP_GRAD_TESTED(batch_norm_act);
SP_GRAD2_TESTED(batch_norm_act);
SP_GRAD_TESTED(group_norm_act);
SP_GRAD2_TESTED(group_norm_act);

namespace {

struct Case {
  const char* name;
  bool residual, relu, training;
  Layout layout;
  int64_t groups = 0;  // > 0: group norm with this many groups (training is then moot)
};

const Case kCases[] = {
    {"residual + relu, training", true, true, true, Layout::nchw},
    {"relu only, training", false, true, true, Layout::nchw},
    {"residual only, training", true, false, true, Layout::nchw},
    {"neither, eval", false, false, false, Layout::nchw},
    {"residual + relu, eval", true, true, false, Layout::nchw},
    {"residual + relu, training, channels last", true, true, true, Layout::nhwc},
    {"relu only, eval, channels last", false, true, false, Layout::nhwc},
    {"group norm, residual + relu", true, true, true, Layout::nchw, 3},
    {"instance norm, relu only", false, true, true, Layout::nchw, 6},
    {"group norm, residual only", true, false, true, Layout::nchw, 2},
};

struct Outputs {
  Tensor y, rm, rv;
  std::vector<Tensor> grads;  // x, weight, bias, residual
};

// One forward and backward of the case, fused or composed, on fresh copies of the running statistics. The
// loss is <R, y> with a fixed random R, so every gradient is exercised with dense values.
Outputs run(const Case& k, bool fused, DType dt) {
  const Shape shape = k.layout == Layout::nhwc ? Shape{4, 5, 3, 6} : Shape{4, 6, 5, 3};
  const int64_t C = 6;
  Tensor x = randn(shape, dt, 1, 1.5, 0.3), w = randn({C}, dt, 2, 0.5, 1.0), b = randn({C}, dt, 3, 0.5);
  Tensor res = randn(shape, dt, 4), R = randn(shape, dt, 5);
  Outputs o;
  o.rm = randn({C}, dt, 6, 0.1);
  o.rv = rand_uniform({C}, dt, 7, 0.5, 2.0);
  Tape t(Stream::cpu());
  Var xv = t.leaf(x, true), wv = t.leaf(w, true), bv = t.leaf(b, true), rv = t.leaf(res, true);
  Var y;
  if (fused) {
    NormEpilogue e;
    e.residual = k.residual ? rv : Var{};
    e.relu = k.relu;
    y = k.groups > 0 ? group_norm_act(t, xv, k.groups, wv, bv, e)
                     : batch_norm_act(t, xv, wv, bv, o.rm, o.rv, k.training, e, 0.1, 1e-5, k.layout);
  } else {
    y = k.groups > 0 ? group_norm(t, xv, k.groups, wv, bv)
                     : batch_norm(t, xv, wv, bv, o.rm, o.rv, k.training, 0.1, 1e-5, k.layout);
    if (k.residual) y = add(t, y, rv);
    if (k.relu) y = relu(t, y);
  }
  o.y = t.value(y);
  std::vector<Var> wrt{xv, wv, bv, rv};
  o.grads = t.grad(y, wrt, &R);
  return o;
}

bool bit_equal(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.dtype() == b.dtype() &&
         std::memcmp(a.contiguous().raw_data(), b.contiguous().raw_data(), a.nbytes()) == 0;
}

}  // namespace

TEST(OpsNormAct, MatchesTheCompositionInF64) {
  FastPath off(false);
  for (const Case& k : kCases) {
    Outputs f = run(k, true, DType::f64), c = run(k, false, DType::f64);
    EXPECT_TRUE(all_close(f.y, c.y, 1e-13, 1e-13)) << k.name;
    EXPECT_TRUE(all_close(f.rm, c.rm, 1e-14, 1e-14)) << k.name;
    EXPECT_TRUE(all_close(f.rv, c.rv, 1e-14, 1e-14)) << k.name;
    const char* names[] = {"x", "weight", "bias", "residual"};
    for (size_t i = 0; i < 4; ++i) {
      if (i == 3 && !k.residual) {  // a residual the op never saw gets a zero gradient
        EXPECT_EQ(max_abs(f.grads[i]), 0.0) << k.name;
        continue;
      }
      EXPECT_TRUE(all_close(f.grads[i], c.grads[i], 1e-12, 1e-12)) << k.name << ": d" << names[i];
    }
  }
}

TEST(OpsNormAct, FastPathIsBitIdenticalToTheComposition) {
  FastPath on(true);
  for (const Case& k : kCases) {
    Outputs f = run(k, true, DType::f32), c = run(k, false, DType::f32);
    EXPECT_TRUE(bit_equal(f.y, c.y)) << k.name;
    EXPECT_TRUE(bit_equal(f.rm, c.rm) && bit_equal(f.rv, c.rv)) << k.name;
    for (size_t i = 0; i < 4; ++i) EXPECT_TRUE(bit_equal(f.grads[i], c.grads[i])) << k.name << ": gradient " << i;
  }
}

TEST(OpsNormAct, FloatPathsMatchTheReference) {
  for (const Case& k : kCases) {
    Outputs ref;
    {
      FastPath off(false);
      ref = run(k, true, DType::f64);
    }
    FastPath on(true);
    Outputs f = run(k, true, DType::f32);
    EXPECT_TRUE(all_close(f.y, ref.y, 1e-5, 1e-5)) << k.name;
    for (size_t i = 0; i < 4; ++i)
      EXPECT_TRUE(all_close(f.grads[i], ref.grads[i], 1e-4, 1e-4 * std::max(1.0, max_abs(ref.grads[i]))))
          << k.name << ": gradient " << i;
  }
}

TEST(OpsNormAct, GradientsMatchFiniteDifferences) {
  Tensor x = randn({3, 2, 2, 3}, DType::f64, 20, 1.5, 0.5), w = randn({2}, DType::f64, 21, 0.5, 1.0),
         b = randn({2}, DType::f64, 22, 0.5), r = randn({3, 2, 2, 3}, DType::f64, 23);
  Tensor rm = randn({2}, DType::f64, 24), rv = rand_uniform({2}, DType::f64, 25, 0.5, 2.0);
  for (bool training : {true, false})
    for (bool relu_on : {true, false})
      check_gradients({x, w, b, r}, {true, true, true, true}, [&](Tape& t, const std::vector<Var>& v) {
        return batch_norm_act(t, v[0], v[1], v[2], rm, rv, training, NormEpilogue{v[3], relu_on});
      });
  // Channels last, and weight and bias as views of one flat vector.
  Tensor xl = randn({2, 3, 2, 4}, DType::f64, 26, 1.2), rl = randn({2, 3, 2, 4}, DType::f64, 27);
  Tensor theta = randn({8}, DType::f64, 28, 0.5, 1.0);
  check_gradients({xl, theta, rl}, {true, true, true}, [](Tape& t, const std::vector<Var>& v) {
    Var wv = t.view(v[1], 0, {4}), bv = t.view(v[1], 4, {4});
    return batch_norm_act(t, v[0], wv, bv, Tensor(), Tensor(), true, NormEpilogue{v[2], true}, 0.1, 1e-5,
                          Layout::nhwc);
  });
}

TEST(OpsNormAct, SecondOrderMatchesFiniteDifferences) {
  Tensor x = randn({3, 2, 2, 3}, DType::f64, 30, 1.5, 0.5), w = randn({2}, DType::f64, 31, 0.5, 1.0),
         b = randn({2}, DType::f64, 32, 0.5), r = randn({3, 2, 2, 3}, DType::f64, 33);
  Tensor rm = randn({2}, DType::f64, 34), rv = rand_uniform({2}, DType::f64, 35, 0.5, 2.0);
  for (bool training : {true, false})
    check_second_order({x, w, b, r}, {true, true, true, true}, [&](Tape& t, const std::vector<Var>& v) {
      return batch_norm_act(t, v[0], v[1], v[2], rm, rv, training, NormEpilogue{v[3], true});
    });
  // A network-like use: the output feeds a loss that also reads x.
  check_second_order({x, w, b, r}, {true, true, false, true}, [](Tape& t, const std::vector<Var>& v) {
    Var y = batch_norm_act(t, v[0], v[1], v[2], Tensor(), Tensor(), true, NormEpilogue{v[3], true});
    return mse_loss(t, y, v[0]);
  });
}

TEST(OpsNormAct, GroupNormGradientsMatchFiniteDifferences) {
  Tensor x = randn({3, 4, 2, 3}, DType::f64, 60, 1.5, 0.5), w = randn({4}, DType::f64, 61, 0.5, 1.0),
         b = randn({4}, DType::f64, 62, 0.5), r = randn({3, 4, 2, 3}, DType::f64, 63);
  for (int64_t G : {1, 2, 4}) {
    check_gradients({x, w, b, r}, {true, true, true, true}, [G](Tape& t, const std::vector<Var>& v) {
      return group_norm_act(t, v[0], G, v[1], v[2], NormEpilogue{v[3], true});
    });
    check_second_order({x, w, b, r}, {true, true, true, true}, [G](Tape& t, const std::vector<Var>& v) {
      return group_norm_act(t, v[0], G, v[1], v[2], NormEpilogue{v[3], true});
    });
  }
  check_gradients({x}, {true}, [](Tape& t, const std::vector<Var>& v) {  // relu(instance_norm(x) + x)
    return group_norm_act(t, v[0], 4, {}, {}, NormEpilogue{v[0], true});
  });
}

TEST(OpsNormAct, ResidualThatIsTheInputOrOverlapsIt) {
  // relu(bn(x) + x): both gradients land in x's one buffer.
  Tensor x = randn({3, 2, 2, 3}, DType::f64, 40, 1.5, 0.5), w = randn({2}, DType::f64, 41, 0.5, 1.0);
  check_gradients({x, w}, {true, true}, [](Tape& t, const std::vector<Var>& v) {
    return batch_norm_act(t, v[0], v[1], {}, Tensor(), Tensor(), true, NormEpilogue{v[0], true});
  });
  // x and the residual as two views of one root sharing half their elements.
  Tensor root = randn({2 * 12 + 12}, DType::f64, 42, 1.3, 0.2);
  check_gradients({root}, {true}, [](Tape& t, const std::vector<Var>& v) {
    Var xv = t.view(v[0], 0, {4, 3, 2, 1}), rv = t.view(v[0], 12, {4, 3, 2, 1});
    return batch_norm_act(t, xv, {}, {}, Tensor(), Tensor(), true, NormEpilogue{rv, true});
  });
}

TEST(OpsNormAct, BadInput) {
  Tape t(Stream::cpu());
  Var x = t.leaf(randn({2, 3, 2, 2}, DType::f64, 50));
  Var wrong = t.leaf(randn({2, 3, 2, 1}, DType::f64, 51));
  expect_error_mentioning(
      [&] { batch_norm_act(t, x, {}, {}, Tensor(), Tensor(), true, NormEpilogue{wrong, true}); }, "residual");
  Var f32 = t.leaf(randn({2, 3, 2, 2}, DType::f32, 52));
  expect_error_mentioning(
      [&] { batch_norm_act(t, x, {}, {}, Tensor(), Tensor(), true, NormEpilogue{f32, false}); }, "residual");
}
