// Device copies, casts, fills and the caching allocator on a real GPU.
#include "kernels/cuda_api.h"
#include "tests/gpu/gpu_test_util.h"

using namespace sp;
using namespace sp::test;

TEST(TensorGpu, RoundTripAndStridedCopies) {
  SP_REQUIRE_GPU();
  Stream& g = gpu_stream();
  Tensor a = randn({5, 7, 3}, DType::f32, 1);
  Tensor d = a.to(g.device(), g);
  EXPECT_EQ(d.device(), g.device());
  EXPECT_TRUE(all_close(d, a, 0, 0, g));
  Tensor p = d.permute({2, 0, 1}).contiguous(g);  // strided device copy
  EXPECT_TRUE(all_close(p, a.permute({2, 0, 1}).contiguous(), 0, 0, g));
  Tensor s = d.slice(1, 1, 6, 2);
  EXPECT_TRUE(all_close(s.contiguous(g), a.slice(1, 1, 6, 2).contiguous(), 0, 0, g));
}

TEST(TensorGpu, CastsMatchCpu) {
  SP_REQUIRE_GPU();
  Stream& g = gpu_stream();
  Tensor a = randn({1000}, DType::f64, 2, 100.0);
  Tensor d = a.to(g.device(), g);
  for (DType dt : {DType::f32, DType::bf16, DType::f16, DType::i32, DType::i64, DType::u8, DType::boolean})
    EXPECT_TRUE(all_close(d.to(dt, g), a.to(dt), 0, 0, g)) << dtype_name(dt);
}

TEST(TensorGpu, FillStridedView) {
  SP_REQUIRE_GPU();
  Stream& g = gpu_stream();
  Tensor d = Tensor::zeros({4, 6}, DType::f32, g);
  d.slice(1, 0, 6, 2).fill_(3.0, g);
  auto v = d.to_vector<float>(g);
  for (int i = 0; i < 24; ++i) EXPECT_EQ(v[i], i % 2 == 0 ? 3.0f : 0.0f);
}

TEST(TensorGpu, AllocatorReusesMemoryAcrossSteps) {
  SP_REQUIRE_GPU();
  Stream& g = gpu_stream();
  g.synchronize();
  for (int step = 0; step < 3; ++step) {  // warm the cache with a step's worth of shapes
    Tensor a = Tensor::empty({256, 1024}, DType::f32, g);
    Tensor b = Tensor::empty({333}, DType::f32, g);
  }
  size_t before = cuda_api::pool_stats(0).raw_allocs;
  for (int step = 0; step < 10; ++step) {
    Tensor a = Tensor::empty({256, 1024}, DType::f32, g);
    Tensor b = Tensor::empty({333}, DType::f32, g);
  }
  EXPECT_EQ(cuda_api::pool_stats(0).raw_allocs, before) << "steady-state steps must not call cudaMalloc";
}
