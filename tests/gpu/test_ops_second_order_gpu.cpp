// CUDA against the CPU for the ops that make backward passes differentiable (exp, rsqrt, expand, sum_to,
// narrow, the conv/pool/upsample adjoints, the normalisation gradients: forward and gradient), and for the double backward
// (compare_double_backward) of the elementwise, reduction, shape, scale, matmul, conv and pool ops.
#include "nn/ops_conv.h"
#include "nn/ops_elementwise.h"
#include "nn/ops_matmul.h"
#include "nn/ops_norm.h"
#include "nn/ops_reduce.h"
#include "nn/ops_scale.h"
#include "nn/ops_shape.h"
#include "tests/elementwise_op_table.h"
#include "tests/norm_stats_util.h"
#include "tests/gpu/gpu_compare.h"

using namespace sp;
using namespace sp::ag;
using namespace sp::test;

SP_BACKEND_TESTED(exp);
SP_BACKEND_TESTED(rsqrt);
SP_BACKEND_TESTED(sqrt);
SP_BACKEND_TESTED(expand);
SP_BACKEND_TESTED(sum_to);
SP_BACKEND_TESTED(narrow);
SP_BACKEND_TESTED(upsample_nearest_grad);
SP_BACKEND_TESTED(conv2d_input_grad);
SP_BACKEND_TESTED(conv2d_weight_grad);
SP_BACKEND_TESTED(max_pool2d_grad);
SP_BACKEND_TESTED(max_pool2d_gather);
SP_BACKEND_TESTED(avg_pool2d_grad);
SP_BACKEND_TESTED(norm_input_grad);
SP_BACKEND_TESTED(norm_weight_grad);

SP_BACKEND2_TESTED(relu);
SP_BACKEND2_TESTED(leaky_relu);
SP_BACKEND2_TESTED(silu);
SP_BACKEND2_TESTED(sigmoid);
SP_BACKEND2_TESTED(tanh);
SP_BACKEND2_TESTED(exp);
SP_BACKEND2_TESTED(rsqrt);
SP_BACKEND2_TESTED(sqrt);
SP_BACKEND2_TESTED(add);
SP_BACKEND2_TESTED(sub);
SP_BACKEND2_TESTED(mul);
SP_BACKEND2_TESTED(div);
SP_BACKEND2_TESTED(scale);
SP_BACKEND2_TESTED(sum);
SP_BACKEND2_TESTED(mean);
SP_BACKEND2_TESTED(max);
SP_BACKEND2_TESTED(expand);
SP_BACKEND2_TESTED(sum_to);
SP_BACKEND2_TESTED(concat);
SP_BACKEND2_TESTED(narrow);
SP_BACKEND2_TESTED(upsample_nearest);
SP_BACKEND2_TESTED(upsample_nearest_grad);
SP_BACKEND2_TESTED(matmul);
SP_BACKEND2_TESTED(linear);
SP_BACKEND2_TESTED(conv2d);
SP_BACKEND2_TESTED(conv2d_input_grad);
SP_BACKEND2_TESTED(conv2d_weight_grad);
SP_BACKEND2_TESTED(max_pool2d);
SP_BACKEND2_TESTED(max_pool2d_grad);
SP_BACKEND2_TESTED(max_pool2d_gather);
SP_BACKEND2_TESTED(avg_pool2d);
SP_BACKEND2_TESTED(avg_pool2d_grad);
SP_BACKEND2_TESTED(global_avg_pool);
SP_BACKEND2_TESTED(norm_input_grad);
SP_BACKEND2_TESTED(norm_weight_grad);

namespace {
Var square(Tape& t, Var y) { return mul(t, y, y); }
constexpr double kTol = 1e-4;
}  // namespace

TEST(OpsSecondOrderGpu, ElementwiseAndScale) {
  SP_REQUIRE_GPU();
  for (const auto& [name, f] : activation_ops(0.1)) {
    SCOPED_TRACE(name);
    compare_double_backward({randn({64, 33}, DType::f32, 1, 2.0)}, {true},
                            [f = f](Tape& t, const std::vector<Var>& v) { return f(t, v[0]); }, kTol, kTol);
  }
  Tensor pos = rand_uniform({64, 33}, DType::f32, 2, 0.5, 3.0);
  compare_backends({pos}, {true}, [](Tape& t, const std::vector<Var>& v) { return exp(t, v[0]); }, kTol, kTol);
  compare_backends({pos}, {true}, [](Tape& t, const std::vector<Var>& v) { return rsqrt(t, v[0]); }, kTol, kTol);
  compare_double_backward({pos}, {true}, [](Tape& t, const std::vector<Var>& v) { return exp(t, v[0]); }, kTol, kTol);
  compare_double_backward({pos}, {true}, [](Tape& t, const std::vector<Var>& v) { return rsqrt(t, v[0]); }, kTol, kTol);
  compare_backends({pos}, {true}, [](Tape& t, const std::vector<Var>& v) { return ag::sqrt(t, v[0]); }, kTol, kTol);
  compare_double_backward({pos}, {true}, [](Tape& t, const std::vector<Var>& v) { return ag::sqrt(t, v[0]); }, kTol, kTol);
  for (const auto& [name, f] : binary_ops()) {
    SCOPED_TRACE(name);
    compare_double_backward({randn({8, 1, 16}, DType::f32, 3), rand_uniform({5, 1}, DType::f32, 4, 0.5, 2.0)},
                            {true, true}, [f = f](Tape& t, const std::vector<Var>& v) { return f(t, v[0], v[1]); },
                            kTol, kTol);
  }
  compare_double_backward({randn({40, 7}, DType::f32, 5)}, {true},
                          [](Tape& t, const std::vector<Var>& v) { return square(t, scale(t, v[0], -0.3)); }, kTol, kTol);
}

TEST(OpsSecondOrderGpu, ReductionsAndBroadcasts) {
  SP_REQUIRE_GPU();
  Tensor x = randn({6, 9, 5}, DType::f32, 6);
  compare_double_backward({x}, {true}, [](Tape& t, const std::vector<Var>& v) { return square(t, sum(t, square(t, v[0]), {0, 2}, true)); }, kTol, kTol);
  compare_double_backward({x}, {true}, [](Tape& t, const std::vector<Var>& v) { return square(t, mean(t, square(t, v[0]), {1})); }, kTol, kTol);
  compare_double_backward({x}, {true}, [](Tape& t, const std::vector<Var>& v) { return square(t, max(t, square(t, v[0]), {1})); }, kTol, kTol);
  Tensor small = randn({9, 1}, DType::f32, 7);
  compare_backends({small}, {true}, [](Tape& t, const std::vector<Var>& v) { return expand(t, v[0], {4, 9, 3}); }, kTol, kTol);
  compare_double_backward({small}, {true}, [](Tape& t, const std::vector<Var>& v) { return square(t, expand(t, v[0], {4, 9, 3})); }, kTol, kTol);
  compare_backends({x}, {true}, [](Tape& t, const std::vector<Var>& v) { return sum_to(t, v[0], {9, 1}); }, kTol, kTol);
  compare_double_backward({x}, {true}, [](Tape& t, const std::vector<Var>& v) { return square(t, sum_to(t, v[0], {9, 1})); }, kTol, kTol);
}

TEST(OpsSecondOrderGpu, ShapeOps) {
  SP_REQUIRE_GPU();
  Tensor x = randn({4, 6, 5}, DType::f32, 8);
  for (int axis : {0, 1, 2}) {
    compare_backends({x}, {true}, [axis](Tape& t, const std::vector<Var>& v) { return narrow(t, v[0], axis, 1, 3); }, kTol, kTol);
    compare_double_backward({x}, {true}, [axis](Tape& t, const std::vector<Var>& v) { return square(t, narrow(t, v[0], axis, 1, 3)); }, kTol, kTol);
  }
  compare_double_backward({randn({4, 3}, DType::f32, 9), randn({4, 2}, DType::f32, 10)}, {true, true},
                          [](Tape& t, const std::vector<Var>& v) { return square(t, concat(t, {v[0], v[1], v[0]}, 1)); }, kTol, kTol);
  Tensor img = randn({2, 3, 4, 6}, DType::f32, 11);
  compare_double_backward({img}, {true}, [](Tape& t, const std::vector<Var>& v) { return square(t, upsample_nearest(t, v[0], 2, 3)); }, kTol, kTol);
  compare_backends({img}, {true}, [](Tape& t, const std::vector<Var>& v) { return upsample_nearest_grad(t, v[0], 2, 3); }, kTol, kTol);
  compare_double_backward({img}, {true}, [](Tape& t, const std::vector<Var>& v) { return square(t, upsample_nearest_grad(t, v[0], 2, 3)); }, kTol, kTol);
}

TEST(OpsSecondOrderGpu, MatmulAndLinear) {
  SP_REQUIRE_GPU();
  Tf32Scope exact(false);
  for (int ta = 0; ta < 2; ++ta)
    for (int tb = 0; tb < 2; ++tb)
      compare_double_backward({randn(ta ? Shape{3, 7, 9} : Shape{3, 9, 7}, DType::f32, 12), randn(tb ? Shape{3, 5, 7} : Shape{3, 7, 5}, DType::f32, 13)},
                              {true, true}, [ta, tb](Tape& t, const std::vector<Var>& v) { return square(t, matmul(t, v[0], v[1], ta, tb)); },
                              kTol, kTol);
  compare_double_backward({randn({2, 6, 9}, DType::f32, 14), randn({4, 9}, DType::f32, 15), randn({4}, DType::f32, 16)},
                          {true, true, true}, [](Tape& t, const std::vector<Var>& v) { return square(t, linear(t, v[0], v[1], v[2])); },
                          kTol, kTol);
}

TEST(OpsSecondOrderGpu, ConvAndPools) {
  SP_REQUIRE_GPU();
  Tf32Scope exact(false);
  Tensor x = randn({2, 4, 9, 9}, DType::f32, 17), w = randn({6, 2, 3, 3}, DType::f32, 18), b = randn({6}, DType::f32, 19);
  Conv2dParams p{.stride = 2, .padding = 1, .groups = 2};
  compare_double_backward({x, w, b}, {true, true, true},
                          [p](Tape& t, const std::vector<Var>& v) { return square(t, conv2d(t, v[0], v[1], v[2], p)); }, kTol, kTol);
  Conv2dGeom g = conv2d_geometry(x, w, p);
  Tensor gy = randn(g.y_shape(), DType::f32, 20);
  compare_backends({gy, w}, {true, true}, [g](Tape& t, const std::vector<Var>& v) { return conv2d_input_grad(t, v[0], v[1], g); }, kTol, kTol);
  compare_backends({gy, x}, {true, true}, [g](Tape& t, const std::vector<Var>& v) { return conv2d_weight_grad(t, v[0], v[1], g); }, kTol, kTol);
  compare_double_backward({gy, w}, {true, true}, [g](Tape& t, const std::vector<Var>& v) { return square(t, conv2d_input_grad(t, v[0], v[1], g)); }, kTol, kTol);
  compare_double_backward({gy, x}, {true, true}, [g](Tape& t, const std::vector<Var>& v) { return square(t, conv2d_weight_grad(t, v[0], v[1], g)); }, kTol, kTol);

  Pool2dOptions o{.kernel = 3, .stride = 2, .padding = 1};
  compare_double_backward({x}, {true}, [o](Tape& t, const std::vector<Var>& v) { return square(t, avg_pool2d(t, v[0], o)); }, kTol, kTol);
  compare_double_backward({x}, {true}, [o](Tape& t, const std::vector<Var>& v) { return square(t, max_pool2d(t, v[0], o)); }, kTol, kTol);
  compare_double_backward({x}, {true}, [](Tape& t, const std::vector<Var>& v) { return square(t, global_avg_pool(t, v[0])); }, kTol, kTol);
  Pool2dGeom pg = pool2d_geometry("test", x, o.kernel, o.stride, o.padding);
  Tensor py = randn({pg.n, pg.c, pg.oh, pg.ow}, DType::f32, 21);
  Tensor yv = Tensor::empty(py.shape(), DType::f32), arg = Tensor::empty(py.shape(), DType::i32);
  max_pool2d_forward(Stream::cpu(), yv, arg, x, pg);
  Tensor arg_gpu = arg.to(gpu_stream().device(), gpu_stream());
  // The argmax is a constant of the op: each backend gets its own copy.
  auto arg_for = [arg, arg_gpu](Tape& t) { return t.stream().device().is_cuda() ? arg_gpu : arg; };
  compare_backends({py}, {true}, [pg](Tape& t, const std::vector<Var>& v) { return avg_pool2d_grad(t, v[0], pg); }, kTol, kTol);
  compare_double_backward({py}, {true}, [pg](Tape& t, const std::vector<Var>& v) { return square(t, avg_pool2d_grad(t, v[0], pg)); }, kTol, kTol);
  compare_backends({py}, {true}, [pg, arg_for](Tape& t, const std::vector<Var>& v) { return max_pool2d_grad(t, v[0], arg_for(t), pg); }, kTol, kTol);
  compare_double_backward({py}, {true}, [pg, arg_for](Tape& t, const std::vector<Var>& v) { return square(t, max_pool2d_grad(t, v[0], arg_for(t), pg)); }, kTol, kTol);
  compare_backends({x}, {true}, [pg, arg_for](Tape& t, const std::vector<Var>& v) { return max_pool2d_gather(t, v[0], arg_for(t), pg); }, kTol, kTol);
  compare_double_backward({x}, {true}, [pg, arg_for](Tape& t, const std::vector<Var>& v) { return square(t, max_pool2d_gather(t, v[0], arg_for(t), pg)); }, kTol, kTol);
}


TEST(OpsSecondOrderGpu, NormalisationGradientOps) {
  SP_REQUIRE_GPU();
  for (bool batch : {true, false}) {
    SCOPED_TRACE(batch ? "batch" : "group");
    const int64_t groups = batch ? 1 : 4;
    Tensor gy = randn({6, 8, 5, 5}, DType::f32, 30), x = randn({6, 8, 5, 5}, DType::f32, 31, 1.5, 0.3);
    Tensor w = randn({8}, DType::f32, 32);
    auto in_grad = [=](Tape& t, const std::vector<Var>& v) {
      return norm_input_grad(t, v[0], v[1], v[2], norm_stats_for(t.stream(), t.value(v[1]), batch, groups));
    };
    auto w_grad = [=](Tape& t, const std::vector<Var>& v) {
      return norm_weight_grad(t, v[0], v[1], norm_stats_for(t.stream(), t.value(v[1]), batch, groups));
    };
    compare_backends({gy, x, w}, {true, true, true}, in_grad, 1e-3, 1e-4);
    compare_backends({gy, x}, {true, true}, w_grad, 1e-3, 1e-4);
    compare_double_backward({gy, x, w}, {true, true, true}, [=](Tape& t, const std::vector<Var>& v) { return square(t, in_grad(t, v)); },
                            1e-3, 1e-4);
    compare_double_backward({gy, x}, {true, true}, [=](Tape& t, const std::vector<Var>& v) { return square(t, w_grad(t, v)); },
                            1e-3, 1e-4);
  }
}
