// batch_norm_act and group_norm_act (normalisation with the fused residual add and ReLU, kernels/batchnorm.h,
// kernels/groupnorm.h): CUDA against the CPU in f32, forward and the gradients of x, weight, bias and
// residual, on shapes that take batch norm's split channel reductions ([N, C, H, W]) and channels-innermost
// ones (channels last), training and eval, group norm's warp- and block-per-segment reductions, each epilogue
// part; and the double backward. Shapes stay small where a ReLU is on: an output within roundoff of
// 0 may fall on either side of the kink on the two devices, and a larger shape would make that likely.
#include "nn/ops_norm.h"
#include "tests/gpu/gpu_test_util.h"

using namespace sp;
using namespace sp::ag;
using namespace sp::test;

SP_BACKEND_TESTED(batch_norm_act);
SP_BACKEND2_TESTED(batch_norm_act);
SP_BACKEND_TESTED(group_norm_act);
SP_BACKEND2_TESTED(group_norm_act);

namespace {

struct Case {
  Shape shape;
  Layout layout;
  bool relu, training;
};

}  // namespace

TEST(OpsNormActGpu, MatchesCpu) {
  SP_REQUIRE_GPU();
  const Case cases[] = {
      {{8, 3, 5, 7}, Layout::nchw, true, true},     {{8, 3, 5, 7}, Layout::nchw, true, false},
      {{4, 5, 6, 40}, Layout::nhwc, true, true},    {{16, 10}, Layout::nchw, true, true},
      {{64, 64, 32, 32}, Layout::nchw, false, true}, {{32, 16, 16, 64}, Layout::nhwc, false, true},
  };
  for (const Case& k : cases) {
    const int64_t C = k.layout == Layout::nhwc ? k.shape[3] : k.shape[1];
    Tensor rm = randn({C}, DType::f32, 5), rv = rand_uniform({C}, DType::f32, 6, 0.5, 2.0);
    Tensor rm_g = rm.to(gpu_stream().device(), gpu_stream()), rv_g = rv.to(gpu_stream().device(), gpu_stream());
    std::vector<Tensor> in = {randn(k.shape, DType::f32, 1, 2.0, 1.0), randn({C}, DType::f32, 2, 0.5, 1.0),
                              randn({C}, DType::f32, 3), randn(k.shape, DType::f32, 4)};
    compare_backends(
        in, {true, true, true, true},
        [&](Tape& t, const std::vector<Var>& v) {
          const bool gpu = t.stream().is_cuda();
          return batch_norm_act(t, v[0], v[1], v[2], gpu ? rm_g : rm, gpu ? rv_g : rv, k.training,
                                NormEpilogue{v[3], k.relu}, 0.1, 1e-5, k.layout);
        },
        k.shape.numel() > 100000 ? 1e-3 : 1e-4, 1e-3);
    EXPECT_TRUE(all_close(rm_g, rm, 1e-5, 1e-6, gpu_stream())) << "running_mean " << k.shape;
  }
}

TEST(OpsNormActGpu, DoubleBackwardMatchesCpu) {
  SP_REQUIRE_GPU();
  Tensor rm = randn({3}, DType::f32, 15), rv = rand_uniform({3}, DType::f32, 16, 0.5, 2.0);
  Tensor rm_g = rm.to(gpu_stream().device(), gpu_stream()), rv_g = rv.to(gpu_stream().device(), gpu_stream());
  std::vector<Tensor> in = {randn({8, 3, 5, 7}, DType::f32, 11, 2.0, 1.0), randn({3}, DType::f32, 12),
                            randn({3}, DType::f32, 13), randn({8, 3, 5, 7}, DType::f32, 14)};
  for (bool training : {true, false})
    compare_double_backward(
        in, {true, true, true, true},
        [&](Tape& t, const std::vector<Var>& v) {
          const bool gpu = t.stream().is_cuda();
          return batch_norm_act(t, v[0], v[1], v[2], gpu ? rm_g : rm, gpu ? rv_g : rv, training,
                                NormEpilogue{v[3], true});
        },
        1e-3, 1e-4);
}

TEST(OpsNormActGpu, GroupNormMatchesCpu) {
  SP_REQUIRE_GPU();
  struct GnCase {
    Shape shape;
    int64_t groups;
    bool relu, residual;
  };
  const GnCase cases[] = {{{4, 6, 5, 3}, 3, true, true},
                          {{2, 8, 9, 9}, 8, true, false},
                          {{2, 4, 40, 40}, 1, false, true}};  // one segment of 6400 values: a block each
  for (const GnCase& k : cases) {
    const int64_t C = k.shape[1];
    std::vector<Tensor> in = {randn(k.shape, DType::f32, 21, 2.0, 1.0), randn({C}, DType::f32, 22, 0.5, 1.0),
                              randn({C}, DType::f32, 23), randn(k.shape, DType::f32, 24)};
    compare_backends(
        in, {true, true, true, true},
        [&](Tape& t, const std::vector<Var>& v) {
          return group_norm_act(t, v[0], k.groups, v[1], v[2], NormEpilogue{k.residual ? v[3] : Var{}, k.relu});
        },
        1e-4, 1e-3);
  }
  std::vector<Tensor> in = {randn({4, 6, 5, 3}, DType::f32, 31, 2.0, 1.0), randn({6}, DType::f32, 32),
                            randn({6}, DType::f32, 33), randn({4, 6, 5, 3}, DType::f32, 34)};
  compare_double_backward(
      in, {true, true, true, true},
      [](Tape& t, const std::vector<Var>& v) { return group_norm_act(t, v[0], 3, v[1], v[2], NormEpilogue{v[3], true}); },
      1e-3, 1e-4);
}
