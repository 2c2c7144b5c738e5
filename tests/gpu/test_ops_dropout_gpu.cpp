// dropout: the CUDA mask equals the CPU mask bit for bit (sizes that are and are not multiples of the
// four-element Philox block, up to 2^24 + 3 elements, f32 and f64), the op's
// forward, gradient and double backward agree exactly, and a bad probability throws before any launch.
#include "kernels/dropout.h"
#include "nn/ops_dropout.h"
#include "tests/gpu/gpu_test_util.h"

using namespace sp;
using namespace sp::ag;
using namespace sp::test;

SP_BACKEND_TESTED(dropout);
SP_BACKEND2_TESTED(dropout);

TEST(OpsDropoutGpu, MaskMatchesCpu) {
  SP_REQUIRE_GPU();
  Stream& g = gpu_stream();
  for (int64_t n : {int64_t(1), int64_t(7), int64_t(4096), int64_t(1000003), (int64_t(1) << 24) + 3})
    for (DType dt : {DType::f32, DType::f64})
      for (double p : {0.1, 0.5}) {
        Tensor mc = Tensor::empty({n}, dt), mg = Tensor::empty({n}, dt, g);
        dropout_mask(Stream::cpu(), mc, p, 0xfeedull, uint64_t(n) * 3 + 1);
        dropout_mask(g, mg, p, 0xfeedull, uint64_t(n) * 3 + 1);
        EXPECT_TRUE(all_close(mg, mc, 0.0, 0.0, g)) << n << " " << dtype_name(dt) << " p " << p;
      }
}

TEST(OpsDropoutGpu, OpMatchesCpu) {
  SP_REQUIRE_GPU();
  auto f = [](double p, uint64_t sid) {
    return [p, sid](Tape& t, const std::vector<Var>& v) { return dropout(t, v[0], p, 2024, sid); };
  };
  compare_backends({randn({64, 128, 8, 8}, DType::f32, 1)}, {true}, f(0.1, 3), 0.0, 0.0);
  compare_backends({randn({5, 7}, DType::f64, 2)}, {true}, f(0.5, 4), 0.0, 0.0);
  compare_backends({randn({4, 6}, DType::f32, 3).permute({1, 0})}, {true}, f(0.3, 5), 0.0, 0.0);
  // x used twice: the dropout backward accumulates into x's gradient.
  compare_backends({randn({33, 65}, DType::f32, 4)}, {true},
                   [](Tape& t, const std::vector<Var>& v) { return mul(t, dropout(t, v[0], 0.4, 9, 9), v[0]); },
                   1e-6, 1e-7);
}

TEST(OpsDropoutGpu, DoubleBackwardMatchesCpu) {
  SP_REQUIRE_GPU();
  compare_double_backward({randn({33, 65}, DType::f32, 5)}, {true}, [](Tape& t, const std::vector<Var>& v) {
    return mul(t, dropout(t, v[0], 0.4, 9, 10), v[0]);
  }, 1e-6, 1e-7);
}

TEST(OpsDropoutGpu, BadProbabilityThrows) {
  SP_REQUIRE_GPU();
  Stream& g = gpu_stream();
  Tape t(g);
  Var x = t.leaf(Tensor::zeros({3}, DType::f32, g));
  EXPECT_THROW(dropout(t, x, 1.0, 1, 1), Error);
  EXPECT_THROW(dropout_mask(g, Tensor::empty({3}, DType::f32, g), -0.5, 1, 1), Error);
}
