// round_bf16 on CUDA against the CPU reference: bit for bit on random values with specials (the math is one
// SP_HD function), forward, backward and double backward of the op.
#include "kernels/round_bf16.h"
#include "nn/ops_precision.h"
#include "tests/gpu/gpu_test_util.h"

using namespace sp;
using namespace sp::test;

SP_BACKEND_TESTED(round_bf16);
SP_BACKEND2_TESTED(round_bf16);

TEST(OpsPrecisionGpu, KernelMatchesCpuBitForBit) {
  SP_REQUIRE_GPU();
  for (DType dt : {DType::f32, DType::f64}) {
    Tensor x = randn({100003}, dt, 7, 1e3);
    Tensor want = Tensor::empty(x.shape(), dt), got = Tensor::empty(x.shape(), dt, gpu_stream());
    round_bf16(Stream::cpu(), want, x);
    round_bf16(gpu_stream(), got, x.to(Device::cuda(0), gpu_stream()));
    EXPECT_TRUE(all_close(got.to(Device::cpu(), gpu_stream()), want, 0, 0)) << dtype_name(dt);
  }
}

TEST(OpsPrecisionGpu, OpMatchesCpu) {
  SP_REQUIRE_GPU();
  auto f = [](Tape& t, const std::vector<Var>& v) { return ag::round_bf16(t, v[0]); };
  compare_backends({randn({33, 17}, DType::f32, 3)}, {true}, f, 0, 0);
  compare_double_backward({randn({9, 5}, DType::f32, 4)}, {true}, f, 0, 0);
}
