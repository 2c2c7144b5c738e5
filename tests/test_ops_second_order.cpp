// Second-order checks (check_second_order: the gradient of <grad_x f, v>, built with Tape::grad_graph, against
// central differences in f64) for the elementwise, reduction, shape, scale, matmul, conv and pool ops, and
// first-order checks and forward values of the ops that exist to make backward passes differentiable (exp,
// rsqrt, expand, sum_to, narrow, the conv/pool/upsample adjoints, the normalisation gradients).
#include "nn/ops_conv.h"
#include "nn/ops_elementwise.h"
#include "nn/ops_matmul.h"
#include "nn/ops_norm.h"
#include "nn/ops_reduce.h"
#include "nn/ops_scale.h"
#include "nn/ops_shape.h"
#include "tests/elementwise_op_table.h"
#include "tests/norm_stats_util.h"
#include "tests/test_util.h"

using namespace sp;
using namespace sp::ag;
using namespace sp::test;

SP_GRAD_TESTED(exp);
SP_GRAD_TESTED(rsqrt);
SP_GRAD_TESTED(sqrt);
SP_GRAD_TESTED(expand);
SP_GRAD_TESTED(sum_to);
SP_GRAD_TESTED(narrow);
SP_GRAD_TESTED(upsample_nearest_grad);
SP_GRAD_TESTED(conv2d_input_grad);
SP_GRAD_TESTED(conv2d_weight_grad);
SP_GRAD_TESTED(max_pool2d_grad);
SP_GRAD_TESTED(max_pool2d_gather);
SP_GRAD_TESTED(avg_pool2d_grad);
SP_GRAD_TESTED(norm_input_grad);
SP_GRAD_TESTED(norm_weight_grad);

SP_GRAD2_TESTED(relu);
SP_GRAD2_TESTED(leaky_relu);
SP_GRAD2_TESTED(silu);
SP_GRAD2_TESTED(sigmoid);
SP_GRAD2_TESTED(tanh);
SP_GRAD2_TESTED(exp);
SP_GRAD2_TESTED(rsqrt);
SP_GRAD2_TESTED(sqrt);
SP_GRAD2_TESTED(add);
SP_GRAD2_TESTED(sub);
SP_GRAD2_TESTED(mul);
SP_GRAD2_TESTED(div);
SP_GRAD2_TESTED(scale);
SP_GRAD2_TESTED(sum);
SP_GRAD2_TESTED(mean);
SP_GRAD2_TESTED(max);
SP_GRAD2_TESTED(expand);
SP_GRAD2_TESTED(sum_to);
SP_GRAD2_TESTED(concat);
SP_GRAD2_TESTED(narrow);
SP_GRAD2_TESTED(upsample_nearest);
SP_GRAD2_TESTED(upsample_nearest_grad);
SP_GRAD2_TESTED(matmul);
SP_GRAD2_TESTED(linear);
SP_GRAD2_TESTED(conv2d);
SP_GRAD2_TESTED(conv2d_input_grad);
SP_GRAD2_TESTED(conv2d_weight_grad);
SP_GRAD2_TESTED(max_pool2d);
SP_GRAD2_TESTED(max_pool2d_grad);
SP_GRAD2_TESTED(max_pool2d_gather);
SP_GRAD2_TESTED(avg_pool2d);
SP_GRAD2_TESTED(avg_pool2d_grad);
SP_GRAD2_TESTED(global_avg_pool);
SP_GRAD2_TESTED(norm_input_grad);
SP_GRAD2_TESTED(norm_weight_grad);

namespace {
using Fn = std::function<Var(Tape&, const std::vector<Var>&)>;
void both_orders(const std::vector<Tensor>& in, const std::vector<bool>& wrt, const Fn& f, int probes = 24) {
  check_gradients(in, wrt, f, {.max_checks_per_input = probes});
  check_second_order(in, wrt, f, {.rtol = 1e-5, .max_checks_per_input = probes});
}
}  // namespace

TEST(OpsSecondOrder, Activations) {
  for (const auto& [name, f] : activation_ops(0.1)) {
    SCOPED_TRACE(name);
    check_second_order({randn({3, 4}, DType::f64, 5, 2.0)}, {true},
                       [f = f](Tape& t, const std::vector<Var>& v) { return f(t, v[0]); });
  }
}

TEST(OpsSecondOrder, ExpSqrtAndRsqrt) {
  Tape t(Stream::cpu());
  Var x = t.leaf(Tensor::from_vector<double>({0.25, 4.0, 1.0}, {3}));
  EXPECT_TRUE(all_close(t.value(rsqrt(t, x)), Tensor::from_vector<double>({2.0, 0.5, 1.0}, {3}), 1e-15, 0));
  EXPECT_TRUE(all_close(t.value(exp(t, x)), Tensor::from_vector<double>({std::exp(0.25), std::exp(4.0), std::exp(1.0)}, {3}),
                        1e-15, 0));
  both_orders({randn({2, 5}, DType::f64, 6)}, {true}, [](Tape& t, const std::vector<Var>& v) { return exp(t, v[0]); });
  both_orders({rand_uniform({2, 5}, DType::f64, 7, 0.5, 3.0)}, {true},
              [](Tape& t, const std::vector<Var>& v) { return rsqrt(t, v[0]); });
  EXPECT_TRUE(all_close(t.value(ag::sqrt(t, x)), Tensor::from_vector<double>({0.5, 2.0, 1.0}, {3}), 1e-15, 0));
  both_orders({rand_uniform({2, 5}, DType::f64, 8, 0.5, 3.0)}, {true},
              [](Tape& t, const std::vector<Var>& v) { return ag::sqrt(t, v[0]); });
}

TEST(OpsSecondOrder, BinaryWithBroadcasting) {
  for (const auto& [name, f] : binary_ops()) {
    SCOPED_TRACE(name);
    Tensor a = randn({3, 1, 4}, DType::f64, 8), b = rand_uniform({2, 1}, DType::f64, 9, 0.5, 2.0);
    check_second_order({a, b}, {true, true}, [f = f](Tape& t, const std::vector<Var>& v) { return f(t, v[0], v[1]); });
    // The same input on both sides.
    check_second_order({rand_uniform({2, 3}, DType::f64, 10, 0.5, 2.0)}, {true},
                       [f = f](Tape& t, const std::vector<Var>& v) { return f(t, v[0], v[0]); });
  }
}

TEST(OpsSecondOrder, ProductOfActivationsAndScale) {
  // A composite whose second derivative mixes several ops: sum(tanh(x) * sigmoid(3 y) / (1 + x^2)).
  check_second_order({randn({2, 3}, DType::f64, 11), randn({2, 3}, DType::f64, 12)}, {true, true},
                     [](Tape& t, const std::vector<Var>& v) {
                       Var den = add(t, constant_like(t, v[0], 1.0), mul(t, v[0], v[0]));
                       return div(t, mul(t, ag::tanh(t, v[0]), sigmoid(t, scale(t, v[1], 3.0))), den);
                     });
}

TEST(OpsSecondOrder, Reductions) {
  Tensor x = randn({3, 4, 2}, DType::f64, 13);
  for (int k = 0; k < 3; ++k) {
    check_second_order({x}, {true}, [k](Tape& t, const std::vector<Var>& v) {
      Var sq = mul(t, v[0], v[0]);
      Var r = k == 0 ? sum(t, sq, {0, 2}, true) : k == 1 ? mean(t, sq, {1}) : max(t, sq, {1});
      return mul(t, r, r);
    });
  }
  check_second_order({x}, {true}, [](Tape& t, const std::vector<Var>& v) { return mean(t, mul(t, v[0], v[0])); });
}

TEST(OpsSecondOrder, ExpandAndSumTo) {
  Tape t(Stream::cpu());
  Var x = t.leaf(Tensor::from_vector<double>({1, 2}, {2, 1}));
  Var e = expand(t, x, {3, 2, 2});
  EXPECT_EQ(t.value(e).to_vector<double>(), (std::vector<double>{1, 1, 2, 2, 1, 1, 2, 2, 1, 1, 2, 2}));
  Var s = sum_to(t, e, {2, 1});
  EXPECT_EQ(t.value(s).to_vector<double>(), (std::vector<double>{6, 12}));
  expect_error_mentioning([&] { expand(t, x, {3, 3}); }, "expand");
  expect_error_mentioning([&] { sum_to(t, e, {4, 1}); }, "sum_to");
  both_orders({randn({2, 1}, DType::f64, 14)}, {true}, [](Tape& t, const std::vector<Var>& v) {
    Var e = expand(t, v[0], {3, 2, 2});
    return mul(t, e, e);
  });
  both_orders({randn({3, 2, 2}, DType::f64, 15)}, {true}, [](Tape& t, const std::vector<Var>& v) {
    Var s = sum_to(t, v[0], {2, 1});
    return mul(t, s, s);
  });
}

TEST(OpsSecondOrder, ConcatAndNarrow) {
  Tape t(Stream::cpu());
  Var x = t.leaf(Tensor::from_vector<double>({1, 2, 3, 4, 5, 6}, {2, 3}));
  EXPECT_EQ(t.value(narrow(t, x, 1, 1, 2)).to_vector<double>(), (std::vector<double>{2, 3, 5, 6}));
  EXPECT_EQ(t.value(narrow(t, x, -2, 1, 1)).to_vector<double>(), (std::vector<double>{4, 5, 6}));
  expect_error_mentioning([&] { narrow(t, x, 1, 2, 2); }, "narrow");
  for (int axis : {0, 1, 2})
    both_orders({randn({3, 4, 5}, DType::f64, 16)}, {true}, [axis](Tape& t, const std::vector<Var>& v) {
      Var n = narrow(t, v[0], axis, 1, 2);
      return mul(t, n, n);
    });
  check_second_order({randn({2, 3}, DType::f64, 17), randn({2, 2}, DType::f64, 18)}, {true, true},
                     [](Tape& t, const std::vector<Var>& v) {
                       Var c = concat(t, {v[0], v[1], v[0]}, 1);
                       return mul(t, c, c);
                     });
}

TEST(OpsSecondOrder, UpsampleAndItsAdjoint) {
  Tape t(Stream::cpu());
  Var g = t.leaf(Tensor::from_vector<double>({1, 2, 3, 4, 5, 6, 7, 8}, {1, 1, 2, 4}));
  EXPECT_EQ(t.value(upsample_nearest_grad(t, g, 2, 2)).to_vector<double>(), (std::vector<double>{14, 22}));
  expect_error_mentioning([&] { upsample_nearest_grad(t, g, 3, 1); }, "upsample_nearest_grad");
  both_orders({randn({2, 2, 3, 2}, DType::f64, 19)}, {true}, [](Tape& t, const std::vector<Var>& v) {
    Var u = upsample_nearest(t, v[0], 2, 3);
    return mul(t, u, u);
  });
  both_orders({randn({2, 2, 4, 6}, DType::f64, 20)}, {true}, [](Tape& t, const std::vector<Var>& v) {
    Var u = upsample_nearest_grad(t, v[0], 2, 3);
    return mul(t, u, u);
  });
}

TEST(OpsSecondOrder, MatmulWithTransposesAndLinear) {
  for (int ta = 0; ta < 2; ++ta)
    for (int tb = 0; tb < 2; ++tb) {
      SCOPED_TRACE(testing::Message() << "ta " << ta << " tb " << tb);
      Tensor a = randn(ta ? Shape{3, 4} : Shape{4, 3}, DType::f64, 21), b = randn(tb ? Shape{5, 3} : Shape{3, 5}, DType::f64, 22);
      // The transposed forms against the plain op on transposed copies.
      Tape t(Stream::cpu());
      Var c = matmul(t, t.leaf(a), t.leaf(b), ta, tb);
      Var ref = matmul(t, t.leaf(ta ? a.transpose(0, 1).contiguous() : a), t.leaf(tb ? b.transpose(0, 1).contiguous() : b));
      EXPECT_TRUE(all_close(t.value(c), t.value(ref), 1e-14, 1e-14));
      both_orders({a, b}, {true, true}, [ta, tb](Tape& t, const std::vector<Var>& v) {
        Var c = matmul(t, v[0], v[1], ta, tb);
        return mul(t, c, c);
      });
    }
  check_second_order({randn({2, 4, 3}, DType::f64, 23), randn({2, 3, 5}, DType::f64, 24)}, {true, true},
                     [](Tape& t, const std::vector<Var>& v) {
                       Var c = matmul(t, v[0], v[1]);
                       return mul(t, c, c);
                     });
  check_second_order({randn({2, 3, 5}, DType::f64, 25), randn({4, 5}, DType::f64, 26), randn({4}, DType::f64, 27)},
                     {true, true, true}, [](Tape& t, const std::vector<Var>& v) {
                       Var y = linear(t, v[0], v[1], v[2]);
                       return mul(t, y, y);
                     });
}

namespace {
struct ConvCase {
  Shape x, w;
  Conv2dParams p;
};
const ConvCase kConvCases[] = {
    {{2, 3, 5, 5}, {4, 3, 3, 3}, {.padding = 1}},
    {{1, 2, 6, 7}, {3, 2, 3, 2}, {.stride = {2, 1}, .padding = {1, 0}}},
    {{2, 4, 5, 5}, {4, 2, 3, 3}, {.padding = 2, .dilation = 2, .groups = 2}},
};
}  // namespace

TEST(OpsSecondOrder, Conv2dAndItsGradientOps) {
  for (const ConvCase& k : kConvCases) {
    Tensor x = randn(k.x, DType::f64, 28), w = randn(k.w, DType::f64, 29), b = randn({k.w[0]}, DType::f64, 30);
    Conv2dParams p = k.p;
    Conv2dGeom g = conv2d_geometry(x, w, p);
    Tensor gy = randn(g.y_shape(), DType::f64, 31);
    // The gradient ops compute what the first-order backward writes.
    Tape t(Stream::cpu());
    Var xv = t.leaf(x, true), wv = t.leaf(w, true);
    Var y = conv2d(t, xv, wv, {}, p);
    std::vector<Tensor> g1 = t.grad(y, {xv, wv}, &gy);
    Var gyv = t.leaf(gy);
    EXPECT_TRUE(all_close(t.value(conv2d_input_grad(t, gyv, wv, g)), g1[0], 1e-12, 1e-12));
    EXPECT_TRUE(all_close(t.value(conv2d_weight_grad(t, gyv, xv, g)), g1[1], 1e-12, 1e-12));
    check_second_order({x, w, b}, {true, true, true},
                       [p](Tape& t, const std::vector<Var>& v) {
                         Var y = conv2d(t, v[0], v[1], v[2], p);
                         return mul(t, y, y);
                       },
                       {.rtol = 1e-5, .max_checks_per_input = 12});
    both_orders({gy, w}, {true, true}, [g](Tape& t, const std::vector<Var>& v) {
      Var d = conv2d_input_grad(t, v[0], v[1], g);
      return mul(t, d, d);
    }, 12);
    both_orders({gy, x}, {true, true}, [g](Tape& t, const std::vector<Var>& v) {
      Var d = conv2d_weight_grad(t, v[0], v[1], g);
      return mul(t, d, d);
    }, 12);
  }
  Tape t(Stream::cpu());
  Conv2dGeom g = conv2d_geometry(Tensor::zeros({1, 2, 5, 5}, DType::f64), Tensor::zeros({3, 2, 3, 3}, DType::f64), {});
  expect_error_mentioning(
      [&] { conv2d_input_grad(t, t.leaf(Tensor::zeros({1, 3, 4, 4}, DType::f64)), t.leaf(Tensor::zeros({3, 2, 3, 3}, DType::f64)), g); },
      "conv2d_input_grad: output gradient");
  expect_error_mentioning(
      [&] { conv2d_weight_grad(t, t.leaf(Tensor::zeros({1, 3, 3, 3}, DType::f64)), t.leaf(Tensor::zeros({1, 2, 6, 5}, DType::f64)), g); },
      "conv2d_weight_grad: input");
}

TEST(OpsSecondOrder, PoolsAndTheirAdjoints) {
  const Pool2dOptions opts[] = {{.kernel = 2}, {.kernel = 3, .stride = 2, .padding = 1}};
  for (const Pool2dOptions& o : opts) {
    Tensor x = randn({2, 3, 5, 6}, DType::f64, 32);
    auto sq = [](Tape& t, Var y) { return mul(t, y, y); };
    check_second_order({x}, {true}, [o, sq](Tape& t, const std::vector<Var>& v) { return sq(t, avg_pool2d(t, v[0], o)); });
    check_second_order({x}, {true}, [o, sq](Tape& t, const std::vector<Var>& v) { return sq(t, max_pool2d(t, v[0], o)); });
    Pool2dGeom g = pool2d_geometry("test", x, o.kernel, o.stride.h ? o.stride : o.kernel, o.padding);
    Tensor gy = randn({g.n, g.c, g.oh, g.ow}, DType::f64, 33);
    both_orders({gy}, {true}, [g, sq](Tape& t, const std::vector<Var>& v) { return sq(t, avg_pool2d_grad(t, v[0], g)); });
    // The saved argmax of x's max pooling drives the scatter and the gather.
    Tensor y = Tensor::empty(gy.shape(), DType::f64), arg = Tensor::empty(gy.shape(), DType::i32);
    max_pool2d_forward(Stream::cpu(), y, arg, x, g);
    both_orders({gy}, {true}, [g, arg, sq](Tape& t, const std::vector<Var>& v) { return sq(t, max_pool2d_grad(t, v[0], arg, g)); });
    both_orders({x}, {true}, [g, arg, sq](Tape& t, const std::vector<Var>& v) { return sq(t, max_pool2d_gather(t, v[0], arg, g)); });
    // Gathering x at its own argmax is max pooling.
    Tape t(Stream::cpu());
    EXPECT_TRUE(all_close(t.value(max_pool2d_gather(t, t.leaf(x), arg, g)), y, 0, 0));
  }
  check_second_order({randn({2, 3, 3, 4}, DType::f64, 34)}, {true}, [](Tape& t, const std::vector<Var>& v) {
    Var y = global_avg_pool(t, v[0]);
    return mul(t, y, y);
  });
}

TEST(OpsSecondOrder, ScaleAndAChainOfLayers) {
  check_second_order({randn({3, 4}, DType::f64, 35)}, {true}, [](Tape& t, const std::vector<Var>& v) {
    Var y = scale(t, v[0], -0.7);
    return mul(t, y, y);
  });
  // A small conv net: conv -> relu -> avg pool -> linear, second order w.r.t. input and weights together.
  check_second_order({randn({2, 2, 4, 4}, DType::f64, 36), randn({3, 2, 3, 3}, DType::f64, 37), randn({5, 12}, DType::f64, 38)},
                     {true, true, true},
                     [](Tape& t, const std::vector<Var>& v) {
                       Var h = avg_pool2d(t, silu(t, conv2d(t, v[0], v[1], {}, {.padding = 1})), {.kernel = 2});
                       Var z = linear(t, t.reshape(h, {2, 12}), v[2]);
                       return mul(t, z, z);
                     },
                     {.rtol = 1e-5, .max_checks_per_input = 16});
}


TEST(OpsSecondOrder, NormalisationGradientOps) {
  struct Case {
    bool batch;
    int64_t groups;
    Shape x;
  };
  for (const Case& k : {Case{true, 1, {3, 4, 2, 3}}, Case{false, 2, {2, 4, 3, 2}}, Case{false, 4, {2, 4, 5}},
                        Case{true, 1, {5, 3}}}) {
    SCOPED_TRACE(testing::Message() << (k.batch ? "batch" : "group") << " " << k.x);
    Tensor gy = randn(k.x, DType::f64, 40), x = randn(k.x, DType::f64, 41, 1.5, 0.3), w = randn({k.x[1]}, DType::f64, 42);
    // Against the first-order kernels of the norm ops.
    Tape t(Stream::cpu());
    Var xv = t.leaf(x, true), wv = t.leaf(w, true);
    Var y = k.batch ? batch_norm(t, xv, wv, Var{}, Tensor(), Tensor(), true) : group_norm(t, xv, k.groups, wv);
    std::vector<Tensor> ref = t.grad(y, {xv, wv}, &gy);
    NormStats st = norm_stats_for(Stream::cpu(), x, k.batch, k.groups);
    Var gyv = t.leaf(gy);
    EXPECT_TRUE(all_close(t.value(norm_input_grad(t, gyv, xv, wv, st)), ref[0], 1e-12, 1e-12));
    EXPECT_TRUE(all_close(t.value(norm_weight_grad(t, gyv, xv, st)), ref[1], 1e-12, 1e-12));
    const bool batch = k.batch;
    const int64_t groups = k.groups;
    auto sq = [](Tape& t, Var v) { return mul(t, v, v); };
    both_orders({gy, x, w}, {true, true, true}, [=](Tape& t, const std::vector<Var>& v) {
      return sq(t, norm_input_grad(t, v[0], v[1], v[2], norm_stats_for(Stream::cpu(), t.value(v[1]), batch, groups)));
    }, 16);
    both_orders({gy, x}, {true, true}, [=](Tape& t, const std::vector<Var>& v) {
      return sq(t, norm_input_grad(t, v[0], v[1], Var{}, norm_stats_for(Stream::cpu(), t.value(v[1]), batch, groups)));
    }, 16);
    both_orders({gy, x}, {true, true}, [=](Tape& t, const std::vector<Var>& v) {
      return sq(t, norm_weight_grad(t, v[0], v[1], norm_stats_for(Stream::cpu(), t.value(v[1]), batch, groups)));
    }, 16);
  }
  Tape t(Stream::cpu());
  Tensor x = randn({2, 4, 3}, DType::f64, 43);
  expect_error_mentioning([&] { norm_input_grad(t, t.leaf(Tensor::zeros({2, 4, 2}, DType::f64)), t.leaf(x), Var{}, norm_stats_for(Stream::cpu(), x, true, 1)); },
                          "norm_input_grad");
}
