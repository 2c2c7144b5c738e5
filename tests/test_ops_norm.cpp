// batch_norm, group_norm, instance_norm: forward values and running-statistic updates against naive f64
// formulas written here, f64 gradient checks for every input (train and eval batch norm, groups 1, 2 and
// C, with and without affine, gradients accumulated through flat-parameter views and reused inputs),
// second-order checks of the differentiable backward (the same cases, plus strided inputs and seeds, which
// it must reshape through a copy), and bad input.
#include <cmath>

#include "nn/ops_loss.h"
#include "nn/ops_norm.h"
#include "tests/test_util.h"

using namespace sp;
using namespace sp::ag;
using namespace sp::test;

SP_GRAD_TESTED(batch_norm);
SP_GRAD_TESTED(group_norm);
SP_GRAD_TESTED(instance_norm);
SP_GRAD2_TESTED(batch_norm);
SP_GRAD2_TESTED(group_norm);
SP_GRAD2_TESTED(instance_norm);

namespace {

using Vec = std::vector<double>;
Vec vec(const Tensor& t) { return as_doubles(t); }

// Naive references: x is [N, C, HW] in row-major order; statistics over the index sets below.
struct NaiveBatchNorm {
  Vec y, new_rm, new_rv;
};
NaiveBatchNorm naive_batch_norm(const Vec& x, int64_t N, int64_t C, int64_t HW, const Vec& w, const Vec& b,
                                const Vec& rm, const Vec& rv, bool training, double momentum, double eps) {
  NaiveBatchNorm r{Vec(x.size()), rm, rv};
  const double M = double(N * HW);
  for (int64_t c = 0; c < C; ++c) {
    double mean = 0, var = 0;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t i = 0; i < HW; ++i) mean += x[(n * C + c) * HW + i] / M;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t i = 0; i < HW; ++i) var += std::pow(x[(n * C + c) * HW + i] - mean, 2) / M;
    if (training) {
      r.new_rm[c] = (1 - momentum) * rm[c] + momentum * mean;
      r.new_rv[c] = (1 - momentum) * rv[c] + momentum * var * M / (M - 1);
    } else {
      mean = rm[c];
      var = rv[c];
    }
    for (int64_t n = 0; n < N; ++n)
      for (int64_t i = 0; i < HW; ++i) {
        int64_t k = (n * C + c) * HW + i;
        r.y[k] = (x[k] - mean) / std::sqrt(var + eps) * (w.empty() ? 1.0 : w[c]) + (b.empty() ? 0.0 : b[c]);
      }
  }
  return r;
}

Vec naive_group_norm(const Vec& x, int64_t N, int64_t C, int64_t HW, int64_t G, const Vec& w, const Vec& b,
                     double eps) {
  Vec y(x.size());
  const int64_t cg = C / G;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t g = 0; g < G; ++g) {
      double mean = 0, var = 0, L = double(cg * HW);
      for (int64_t c = g * cg; c < (g + 1) * cg; ++c)
        for (int64_t i = 0; i < HW; ++i) mean += x[(n * C + c) * HW + i] / L;
      for (int64_t c = g * cg; c < (g + 1) * cg; ++c)
        for (int64_t i = 0; i < HW; ++i) var += std::pow(x[(n * C + c) * HW + i] - mean, 2) / L;
      for (int64_t c = g * cg; c < (g + 1) * cg; ++c)
        for (int64_t i = 0; i < HW; ++i) {
          int64_t k = (n * C + c) * HW + i;
          y[k] = (x[k] - mean) / std::sqrt(var + eps) * (w.empty() ? 1.0 : w[c]) + (b.empty() ? 0.0 : b[c]);
        }
    }
  return y;
}

::testing::AssertionResult near_vec(const Vec& got, const Vec& want, double tol) {
  if (got.size() != want.size()) return ::testing::AssertionFailure() << got.size() << " vs " << want.size();
  for (size_t i = 0; i < got.size(); ++i)
    if (!(std::abs(got[i] - want[i]) <= tol * std::max(1.0, std::abs(want[i]))))
      return ::testing::AssertionFailure() << "[" << i << "] got " << got[i] << " want " << want[i];
  return ::testing::AssertionSuccess();
}

}  // namespace

TEST(OpsNorm, BatchNormHandComputed) {
  // One channel, values 1..4: mean 2.5, biased var 1.25, unbiased 5/3.
  Tape t(Stream::cpu());
  Tensor rm = Tensor::zeros({1}, DType::f64), rv = Tensor::full({1}, 1.0, DType::f64);
  Var y = batch_norm(t, t.leaf(Tensor::from_vector<double>({1, 2, 3, 4}, {4, 1})), {}, {}, rm, rv, true, 0.1, 0.0);
  const double s = std::sqrt(1.25);
  EXPECT_TRUE(near_vec(vec(t.value(y)), {-1.5 / s, -0.5 / s, 0.5 / s, 1.5 / s}, 1e-15));
  EXPECT_DOUBLE_EQ(rm.item({0}), 0.25);
  EXPECT_DOUBLE_EQ(rv.item({0}), 0.9 + 0.1 * 5.0 / 3.0);
}

TEST(OpsNorm, BatchNormTrainMatchesNaiveAndUpdatesRunningStats) {
  for (Shape shape : {Shape{4, 3, 2, 5}, Shape{6, 5}, Shape{2, 3, 7}}) {
    const int64_t N = shape[0], C = shape[1], HW = shape.numel() / (N * C);
    Tensor x = randn(shape, DType::f64, 1, 2.0, 3.0), w = randn({C}, DType::f64, 2), b = randn({C}, DType::f64, 3);
    Tensor rm = randn({C}, DType::f64, 4), rv = rand_uniform({C}, DType::f64, 5, 0.5, 2.0);
    auto want = naive_batch_norm(vec(x), N, C, HW, vec(w), vec(b), vec(rm), vec(rv), true, 0.3, 1e-5);
    Tape t(Stream::cpu());
    Var y = batch_norm(t, t.leaf(x), t.leaf(w), t.leaf(b), rm, rv, true, 0.3);
    EXPECT_TRUE(near_vec(vec(t.value(y)), want.y, 1e-12)) << shape;
    EXPECT_TRUE(near_vec(vec(rm), want.new_rm, 1e-13)) << shape;
    EXPECT_TRUE(near_vec(vec(rv), want.new_rv, 1e-13)) << shape;
  }
}

TEST(OpsNorm, BatchNormWithoutAffineOrRunningStatsAndInF32) {
  Tensor x = randn({5, 2, 3, 3}, DType::f64, 6, 1.5, -2.0);
  auto want = naive_batch_norm(vec(x), 5, 2, 9, {}, {}, {0, 0}, {1, 1}, true, 0.1, 1e-5);
  Tape t(Stream::cpu());
  Var y = batch_norm(t, t.leaf(x), {}, {}, Tensor(), Tensor(), true);
  EXPECT_TRUE(near_vec(vec(t.value(y)), want.y, 1e-12));
  Var yf = batch_norm(t, t.leaf(x.to(DType::f32)), {}, {}, Tensor(), Tensor(), true);
  EXPECT_EQ(t.value(yf).dtype(), DType::f32);
  EXPECT_TRUE(near_vec(vec(t.value(yf)), want.y, 1e-5));
}

TEST(OpsNorm, BatchNormEvalUsesRunningStatsAndLeavesThem) {
  Tensor x = randn({3, 4, 2, 2}, DType::f64, 7), w = randn({4}, DType::f64, 8), b = randn({4}, DType::f64, 9);
  Tensor rm = randn({4}, DType::f64, 10), rv = rand_uniform({4}, DType::f64, 11, 0.5, 2.0);
  Vec rm0 = vec(rm), rv0 = vec(rv);
  auto want = naive_batch_norm(vec(x), 3, 4, 4, vec(w), vec(b), rm0, rv0, false, 0.1, 1e-3);
  Tape t(Stream::cpu());
  Var y = batch_norm(t, t.leaf(x), t.leaf(w), t.leaf(b), rm, rv, false, 0.1, 1e-3);
  EXPECT_TRUE(near_vec(vec(t.value(y)), want.y, 1e-13));
  EXPECT_EQ(vec(rm), rm0);
  EXPECT_EQ(vec(rv), rv0);
}

TEST(OpsNorm, GroupNormMatchesNaive) {
  const int64_t N = 3, C = 6, HW = 10;
  Tensor x = randn({N, C, 2, 5}, DType::f64, 12, 2.0, 1.0), w = randn({C}, DType::f64, 13),
         b = randn({C}, DType::f64, 14);
  for (int64_t G : {1, 2, 3, 6}) {
    Tape t(Stream::cpu());
    Var y = group_norm(t, t.leaf(x), G, t.leaf(w), t.leaf(b));
    EXPECT_TRUE(near_vec(vec(t.value(y)), naive_group_norm(vec(x), N, C, HW, G, vec(w), vec(b), 1e-5), 1e-12)) << G;
    Var u = group_norm(t, t.leaf(x), G);
    EXPECT_TRUE(near_vec(vec(t.value(u)), naive_group_norm(vec(x), N, C, HW, G, {}, {}, 1e-5), 1e-12)) << G;
  }
  Tape t(Stream::cpu());
  Var in = instance_norm(t, t.leaf(x), t.leaf(w), t.leaf(b), 1e-3);
  EXPECT_TRUE(near_vec(vec(t.value(in)), naive_group_norm(vec(x), N, C, HW, C, vec(w), vec(b), 1e-3), 1e-12));
  Var y2 = group_norm(t, t.leaf(randn({4, 6}, DType::f64, 15)), 3);  // [N, C]: groups of two values
  EXPECT_TRUE(near_vec(vec(t.value(y2)), naive_group_norm(vec(randn({4, 6}, DType::f64, 15)), 4, 6, 1, 3, {}, {}, 1e-5),
                       1e-12));
}

TEST(OpsNorm, BatchNormGradientTrain) {
  // Weight and bias as views of one flat parameter vector (their gradients accumulate with beta = 1), and
  // x used twice (mse against itself), so every GradSink path is exercised.
  Tensor x = randn({3, 2, 2, 3}, DType::f64, 20, 1.5, 0.5), theta = randn({4}, DType::f64, 21, 0.5, 1.0);
  check_gradients({x, theta}, {true, true}, [](Tape& t, const std::vector<Var>& v) {
    Var w = t.view(v[1], 0, {2}), b = t.view(v[1], 2, {2});
    return batch_norm(t, v[0], w, b, Tensor(), Tensor(), true);
  });
  check_gradients({x}, {true}, [](Tape& t, const std::vector<Var>& v) {
    Var y = batch_norm(t, v[0], {}, {}, Tensor::zeros({2}, DType::f64), Tensor::full({2}, 1.0, DType::f64), true);
    return mse_loss(t, y, v[0]);
  });
  Tensor x2 = randn({5, 3}, DType::f64, 22), w2 = randn({3}, DType::f64, 23), b2 = randn({3}, DType::f64, 24);
  check_gradients({x2, w2, b2}, {true, true, true}, [](Tape& t, const std::vector<Var>& v) {
    return batch_norm(t, v[0], v[1], v[2], Tensor(), Tensor(), true, 0.1, 1e-3);
  });
  // The same weight and bias in two layers: the second backward accumulates onto the first's gradient.
  check_gradients({x2, w2, b2}, {true, true, true}, [](Tape& t, const std::vector<Var>& v) {
    Var h = batch_norm(t, v[0], v[1], v[2], Tensor(), Tensor(), true);
    return batch_norm(t, h, v[1], v[2], Tensor(), Tensor(), true);
  });
  check_gradients({x, theta}, {true, true}, [](Tape& t, const std::vector<Var>& v) {
    Var w = t.view(v[1], 0, {2}), b = t.view(v[1], 2, {2});
    Var h = batch_norm(t, v[0], w, b, Tensor(), Tensor(), true);
    return batch_norm(t, h, w, b, Tensor(), Tensor(), true);
  });
}

TEST(OpsNorm, BatchNormGradientEval) {
  Tensor x = randn({3, 2, 2, 2}, DType::f64, 25), w = randn({2}, DType::f64, 26), b = randn({2}, DType::f64, 27);
  Tensor rm = randn({2}, DType::f64, 28), rv = rand_uniform({2}, DType::f64, 29, 0.5, 2.0);
  check_gradients({x, w, b}, {true, true, true},
                  [&](Tape& t, const std::vector<Var>& v) { return batch_norm(t, v[0], v[1], v[2], rm, rv, false); });
  check_gradients({x, w}, {false, true}, [&](Tape& t, const std::vector<Var>& v) {  // weight only
    return batch_norm(t, v[0], v[1], {}, rm, rv, false);
  });
  check_gradients({x, w, b}, {true, true, true}, [&](Tape& t, const std::vector<Var>& v) {
    Var h = batch_norm(t, v[0], v[1], v[2], rm, rv, false);
    return mse_loss(t, batch_norm(t, h, v[1], v[2], rm, rv, false), v[0]);
  });
}

TEST(OpsNorm, GroupNormGradient) {
  Tensor x = randn({2, 4, 3, 2}, DType::f64, 30, 1.2, 0.3), w = randn({4}, DType::f64, 31),
         b = randn({4}, DType::f64, 32);
  for (int64_t G : {1, 2, 4}) {
    check_gradients({x, w, b}, {true, true, true},
                    [G](Tape& t, const std::vector<Var>& v) { return group_norm(t, v[0], G, v[1], v[2]); });
    check_gradients({x}, {true},
                    [G](Tape& t, const std::vector<Var>& v) { return mse_loss(t, group_norm(t, v[0], G), v[0]); });
  }
  check_gradients({x, w, b}, {true, true, true}, [](Tape& t, const std::vector<Var>& v) {
    return group_norm(t, group_norm(t, v[0], 2, v[1], v[2]), 4, v[1], v[2]);
  });
  Tensor theta = randn({8}, DType::f64, 33);
  check_gradients({x, theta}, {true, true}, [](Tape& t, const std::vector<Var>& v) {
    return group_norm(t, v[0], 2, t.view(v[1], 0, {4}), t.view(v[1], 4, {4}));
  });
}

TEST(OpsNorm, InstanceNormGradient) {
  Tensor x = randn({3, 3, 2, 3}, DType::f64, 34, 0.8), w = randn({3}, DType::f64, 35), b = randn({3}, DType::f64, 36);
  check_gradients({x, w, b}, {true, true, true},
                  [](Tape& t, const std::vector<Var>& v) { return instance_norm(t, v[0], v[1], v[2]); });
}

TEST(OpsNorm, BatchNormSecondOrderTrain) {
  Tensor x = randn({3, 2, 2, 3}, DType::f64, 50, 1.5, 0.5), w = randn({2}, DType::f64, 51, 0.5, 1.0),
         b = randn({2}, DType::f64, 52);
  auto bn = [](Tape& t, const std::vector<Var>& v) {
    return batch_norm(t, v[0], v[1], v[2], Tensor(), Tensor(), true);
  };
  check_second_order({x, w, b}, {true, true, true}, bn);
  check_second_order({x, w, b}, {false, true, true}, bn);  // affine only: h is linear, so constant
  check_second_order({x, w, b}, {true, false, true}, bn);
  check_second_order({x}, {true}, [](Tape& t, const std::vector<Var>& v) {
    return batch_norm(t, v[0], {}, {}, Tensor(), Tensor(), true, 0.1, 1e-3);
  });
  check_second_order({x, b}, {true, true}, [](Tape& t, const std::vector<Var>& v) {  // bias without weight
    return batch_norm(t, v[0], {}, v[1], Tensor(), Tensor(), true);
  });
  // [N, C] input; running statistics are updated by the forward but play no part in the derivatives.
  Tensor x2 = randn({5, 3}, DType::f64, 53), w2 = randn({3}, DType::f64, 54), b2 = randn({3}, DType::f64, 55);
  Tensor rm = Tensor::zeros({3}, DType::f64), rv = Tensor::full({3}, 1.0, DType::f64);
  check_second_order({x2, w2, b2}, {true, true, true}, [&](Tape& t, const std::vector<Var>& v) {
    return batch_norm(t, v[0], v[1], v[2], rm, rv, true);
  });
  // x reaches the loss twice and weight and bias are views of one flat vector used by two layers.
  Tensor theta = randn({4}, DType::f64, 56, 0.5, 1.0);
  check_second_order({x, theta}, {true, true}, [](Tape& t, const std::vector<Var>& v) {
    Var w = t.view(v[1], 0, {2}), b = t.view(v[1], 2, {2});
    Var h = batch_norm(t, v[0], w, b, Tensor(), Tensor(), true);
    return mse_loss(t, batch_norm(t, h, w, b, Tensor(), Tensor(), true), v[0]);
  });
}

TEST(OpsNorm, BatchNormSecondOrderEval) {
  Tensor x = randn({3, 2, 2, 2}, DType::f64, 57), w = randn({2}, DType::f64, 58), b = randn({2}, DType::f64, 59);
  Tensor rm = randn({2}, DType::f64, 60), rv = rand_uniform({2}, DType::f64, 61, 0.5, 2.0);
  auto bn = [&](Tape& t, const std::vector<Var>& v) { return batch_norm(t, v[0], v[1], v[2], rm, rv, false); };
  // Eval batch norm is affine in x and bilinear in (x, w): the mixed x-w derivatives are what is checked.
  check_second_order({x, w, b}, {true, true, true}, bn);
  check_second_order({x, w}, {true, true}, [&](Tape& t, const std::vector<Var>& v) {
    return batch_norm(t, v[0], v[1], {}, rm, rv, false, 0.1, 1e-3);
  });
  check_second_order({x}, {true}, [&](Tape& t, const std::vector<Var>& v) {  // no affine: h is constant
    return batch_norm(t, v[0], {}, {}, rm, rv, false);
  });
  check_second_order({x, w, b}, {true, true, true}, [&](Tape& t, const std::vector<Var>& v) {
    Var h = batch_norm(t, v[0], v[1], v[2], rm, rv, false);
    return mse_loss(t, batch_norm(t, h, v[1], v[2], rm, rv, false), v[0]);
  });
}

TEST(OpsNorm, BatchNormEvalDiffBackwardUsesForwardStatistics) {
  // Running statistics change in place after the forward (a later training step): the differentiable
  // backward must still use the values the forward normalised with, as the first-order backward does.
  Tensor x = randn({3, 2, 2}, DType::f64, 62), w = randn({2}, DType::f64, 63);
  Tensor rm = randn({2}, DType::f64, 64), rv = rand_uniform({2}, DType::f64, 65, 0.5, 2.0);
  Tape t(Stream::cpu());
  Var xv = t.leaf(x, true), wv = t.leaf(w, true);
  Var loss = sum(t, mul(t, batch_norm(t, xv, wv, {}, rm, rv, false), xv));
  batch_norm(t, t.leaf(randn({4, 2, 2}, DType::f64, 66, 3.0, 2.0)), {}, {}, rm, rv, true, 0.5);
  auto g1 = t.grad(loss, {xv, wv});
  auto g2 = t.grad_graph(loss, {xv, wv});
  EXPECT_TRUE(all_close(t.value(g2[0]), g1[0], 1e-12, 1e-12));
  EXPECT_TRUE(all_close(t.value(g2[1]), g1[1], 1e-12, 1e-12));
}

TEST(OpsNorm, GroupNormSecondOrder) {
  Tensor x = randn({2, 4, 3, 2}, DType::f64, 70, 1.2, 0.3), w = randn({4}, DType::f64, 71, 0.5, 1.0),
         b = randn({4}, DType::f64, 72);
  for (int64_t G : {1, 2, 4}) {
    check_second_order({x, w, b}, {true, true, true},
                       [G](Tape& t, const std::vector<Var>& v) { return group_norm(t, v[0], G, v[1], v[2]); });
    check_second_order({x}, {true},
                       [G](Tape& t, const std::vector<Var>& v) { return mse_loss(t, group_norm(t, v[0], G), v[0]); });
  }
  check_second_order({x, w}, {true, true},
                     [](Tape& t, const std::vector<Var>& v) { return group_norm(t, v[0], 2, v[1], {}, 1e-3); });
  check_second_order({randn({4, 6}, DType::f64, 73)}, {true},  // [N, C]: groups of two values
                     [](Tape& t, const std::vector<Var>& v) { return group_norm(t, v[0], 3); });
  check_second_order({x, w, b}, {true, true, true}, [](Tape& t, const std::vector<Var>& v) {
    return group_norm(t, group_norm(t, v[0], 2, v[1], v[2]), 4, v[1], v[2]);
  });
}

TEST(OpsNorm, InstanceNormSecondOrder) {
  Tensor x = randn({3, 3, 2, 3}, DType::f64, 74, 0.8), w = randn({3}, DType::f64, 75, 0.5, 1.0),
         b = randn({3}, DType::f64, 76);
  check_second_order({x, w, b}, {true, true, true},
                     [](Tape& t, const std::vector<Var>& v) { return instance_norm(t, v[0], v[1], v[2]); });
  check_second_order({x}, {true}, [](Tape& t, const std::vector<Var>& v) {
    return mse_loss(t, instance_norm(t, v[0]), v[0]);
  });
}

TEST(OpsNorm, SecondOrderThroughStridedInputAndSeed) {
  // x and the seed are transposed views: the differentiable backward reshapes them, which Tape::reshape
  // only does for contiguous values. The double backward must match the one of the contiguous copies.
  Tensor xt = randn({3, 2, 4}, DType::f64, 80).transpose(0, 1);
  Tensor seedt = randn({3, 2, 4}, DType::f64, 81).transpose(0, 1);
  Tensor w = randn({3}, DType::f64, 82), v = randn({2, 3, 4}, DType::f64, 83);
  ASSERT_FALSE(xt.is_contiguous());
  for (int op = 0; op < 2; ++op) {
    std::vector<Tensor> second;
    for (bool strided : {true, false}) {
      Tape t(Stream::cpu());
      Var x = t.leaf(strided ? xt : xt.contiguous(), true), wv = t.leaf(w, true);
      Var y = op == 0 ? batch_norm(t, x, wv, {}, Tensor(), Tensor(), true) : group_norm(t, x, 3, wv);
      Var seed = t.leaf(strided ? seedt : seedt.contiguous());
      auto g = t.grad_graph(y, {x, wv}, seed);
      EXPECT_TRUE(all_close(t.value(g[0]), t.grad(y, {x}, &seedt)[0], 1e-12, 1e-12)) << op;
      second.push_back(t.grad(sum(t, mul(t, g[0], t.leaf(v))), {x})[0]);
    }
    EXPECT_GT(max_abs(second[1]), 1e-3) << op;
    EXPECT_TRUE(all_close(second[0], second[1], 1e-12, 1e-12)) << op;
  }
}

TEST(OpsNorm, BadInput) {
  Tape t(Stream::cpu());
  Var x = t.leaf(randn({4, 3, 2, 2}, DType::f64, 40));
  Var w2 = t.leaf(Tensor::zeros({2}, DType::f64)), w3 = t.leaf(Tensor::zeros({3}, DType::f64));
  Tensor r3 = Tensor::zeros({3}, DType::f64);
  expect_error_mentioning([&] { batch_norm(t, x, w2, {}, Tensor(), Tensor(), true); }, "weight");
  expect_error_mentioning([&] { batch_norm(t, x, w3, w2, Tensor(), Tensor(), true); }, "bias");
  expect_error_mentioning([&] { batch_norm(t, x, {}, {}, Tensor::zeros({4}, DType::f64), r3, true); }, "running_mean");
  expect_error_mentioning([&] { batch_norm(t, x, {}, {}, Tensor(), Tensor(), false); }, "running_mean");
  expect_error_mentioning([&] { batch_norm(t, x, {}, {}, r3, Tensor(), true); }, "running_var");
  expect_error_mentioning([&] { batch_norm(t, x, {}, {}, r3.to(DType::f32), r3, true); }, "dtype");
  expect_error_mentioning(
      [&] {
        batch_norm(t, t.leaf(Tensor::zeros({1, 3}, DType::f64)), {}, {}, Tensor(), Tensor(), true);
      },
      "more than one value");
  expect_error_mentioning(
      [&] { batch_norm(t, t.leaf(Tensor::zeros({5}, DType::f64)), {}, {}, Tensor(), Tensor(), true); }, "[N, C, *]");
  expect_error_mentioning(
      [&] {
        batch_norm(t, t.leaf(Tensor::zeros({2, 3}, DType::i64)), {}, {}, Tensor(), Tensor(), true);
      },
      "f32 or f64");
  expect_error_mentioning([&] { group_norm(t, x, 2); }, "not divisible into 2 groups");
  expect_error_mentioning([&] { group_norm(t, x, 0); }, "groups");
  expect_error_mentioning([&] { group_norm(t, x, 3, w2); }, "weight");
  expect_error_mentioning([&] { instance_norm(t, x, {}, w2); }, "bias");
}
