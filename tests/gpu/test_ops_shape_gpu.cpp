// concat and upsample_nearest: CUDA against the CPU reference (f32) on several shapes, including more
// parts than one launch takes, empty parts, an input listed twice, and large tensors; device mismatch
// throws.
#include "kernels/concat.h"
#include "nn/ops_shape.h"
#include "tests/gpu/gpu_test_util.h"

using namespace sp;
using namespace sp::ag;
using namespace sp::test;

SP_BACKEND_TESTED(concat);
SP_BACKEND_TESTED(upsample_nearest);

TEST(OpsShapeGpu, ConcatMatchesCpu) {
  SP_REQUIRE_GPU();
  auto cat = [](int axis) {
    return [axis](Tape& t, const std::vector<Var>& v) { return concat(t, v, axis); };
  };
  compare_backends({randn({8, 3, 16}, DType::f32, 1), randn({8, 5, 16}, DType::f32, 2),
                    randn({8, 1, 16}, DType::f32, 3)},
                   {true, false, true}, cat(1), 0.0, 0.0);
  compare_backends({randn({256, 1000}, DType::f32, 4), randn({300, 1000}, DType::f32, 5)}, {true, true}, cat(0),
                   0.0, 0.0);
  compare_backends({randn({2, 3, 4, 5}, DType::f32, 6), randn({2, 3, 4, 7}, DType::f32, 7)}, {true, true}, cat(-1),
                   0.0, 0.0);
  // 20 parts (two launches), some of them empty along the axis.
  std::vector<Tensor> parts;
  for (int i = 0; i < 20; ++i) parts.push_back(randn({6, i % 4, 33}, DType::f32, 100 + i));
  compare_backends(parts, std::vector<bool>(20, true), cat(1), 0.0, 0.0);
  // One input listed twice.
  compare_backends({randn({40, 50}, DType::f32, 8)}, {true},
                   [](Tape& t, const std::vector<Var>& v) { return concat(t, {v[0], v[0]}, 1); }, 1e-6, 1e-6);
}

TEST(OpsShapeGpu, UpsampleMatchesCpu) {
  SP_REQUIRE_GPU();
  for (auto [sh, sw] : {std::pair<int, int>{2, 2}, {1, 3}, {3, 2}}) {
    compare_backends({randn({4, 8, 16, 16}, DType::f32, 9)}, {true},
                     [sh, sw](Tape& t, const std::vector<Var>& v) { return upsample_nearest(t, v[0], sh, sw); },
                     1e-6, 1e-6);
  }
  compare_backends({randn({16, 32, 32, 32}, DType::f32, 10)}, {true},
                   [](Tape& t, const std::vector<Var>& v) { return upsample_nearest(t, v[0], 2, 2); }, 1e-6, 1e-6);
}

TEST(OpsShapeGpu, DeviceMismatchThrows) {
  SP_REQUIRE_GPU();
  Stream& g = gpu_stream();
  Tensor a = Tensor::zeros({2, 3}, DType::f32);
  std::vector<Tensor> parts = {a, a.to(g.device(), g)};
  EXPECT_THROW(concat(g, Tensor::empty({4, 3}, DType::f32, g), parts, 0), Error);
}
