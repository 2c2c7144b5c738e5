// scale/axpby: CUDA against the CPU reference.
#include "nn/ops_scale.h"
#include "tests/gpu/gpu_test_util.h"

using namespace sp;
using namespace sp::ag;
using namespace sp::test;

SP_BACKEND_TESTED(scale);

TEST(OpsScaleGpu, MatchesCpu) {
  SP_REQUIRE_GPU();
  for (Shape s : {Shape{1}, Shape{7, 13}, Shape{1000, 33}})
    compare_backends({randn(s, DType::f32, 3)}, {true},
                     [](Tape& t, const std::vector<Var>& v) { return scale(t, v[0], -0.3); }, 1e-6, 1e-7);
}
