// matmul, linear, gemm and the channel-bias kernels: CUDA (cuBLAS) against the CPU reference, in pedantic
// fp32 at tight tolerance, with TF32 at ~1e-2, in f64 and bf16; GEMM beta; device mismatch.
#include "kernels/bias.h"
#include "kernels/matmul.h"
#include "nn/ops_matmul.h"
#include "tests/gpu/gpu_compare.h"

using namespace sp;
using namespace sp::ag;
using namespace sp::test;

SP_BACKEND_TESTED(matmul);
SP_BACKEND_TESTED(linear);

namespace {
OpFn mm = [](Tape& t, const std::vector<Var>& v) { return matmul(t, v[0], v[1]); };
}

TEST(OpsMatmulGpu, MatmulMatchesCpuFp32) {
  SP_REQUIRE_GPU();
  Tf32Scope fp32(false);
  compare_backends({randn({1, 1}, DType::f32, 1), randn({1, 1}, DType::f32, 2)}, {true, true}, mm, 1e-5, 1e-5);
  compare_backends({randn({3, 17}, DType::f32, 3), randn({17, 5}, DType::f32, 4)}, {true, true}, mm, 1e-5, 1e-5);
  compare_backends({randn({64, 96}, DType::f32, 5), randn({96, 48}, DType::f32, 6)}, {true, true}, mm, 1e-4, 1e-4);
  compare_backends({randn({4, 16, 24}, DType::f32, 7), randn({4, 24, 8}, DType::f32, 8)}, {true, true}, mm, 1e-5,
                   1e-5);
}

TEST(OpsMatmulGpu, MatmulMatchesCpuF64) {
  SP_REQUIRE_GPU();
  compare_backends({randn({33, 20}, DType::f64, 9), randn({20, 7}, DType::f64, 10)}, {true, true}, mm, 1e-12,
                   1e-12);
  compare_backends({randn({3, 5, 6}, DType::f64, 11), randn({3, 6, 2}, DType::f64, 12)}, {true, true}, mm, 1e-12,
                   1e-12);
}

TEST(OpsMatmulGpu, LinearMatchesCpu) {
  SP_REQUIRE_GPU();
  Tf32Scope fp32(false);
  // ResNet-18 head: [batch, 512] -> 10 classes, with bias; and a 3-D input without bias.
  compare_backends({randn({16, 512}, DType::f32, 13), randn({10, 512}, DType::f32, 14, 0.05),
                    randn({10}, DType::f32, 15)},
                   {true, true, true}, [](Tape& t, const std::vector<Var>& v) { return linear(t, v[0], v[1], v[2]); },
                   1e-4, 1e-4);
  compare_backends({randn({2, 3, 7}, DType::f32, 16), randn({5, 7}, DType::f32, 17)}, {true, true},
                   [](Tape& t, const std::vector<Var>& v) { return linear(t, v[0], v[1]); }, 1e-5, 1e-5);
  // Bias gradient over many rows: the two-pass reduction uses several slices per channel.
  compare_backends({randn({9000, 4}, DType::f32, 18), randn({3, 4}, DType::f32, 19), randn({3}, DType::f32, 20)},
                   {true, true, true}, [](Tape& t, const std::vector<Var>& v) { return linear(t, v[0], v[1], v[2]); },
                   1e-4, 1e-3);
}

TEST(OpsMatmulGpu, Tf32WithinOnePercent) {
  SP_REQUIRE_GPU();
  Tf32Scope tf32(true);
  compare_backends_scaled({randn({256, 512}, DType::f32, 21), randn({512, 128}, DType::f32, 22)}, {true, true}, mm,
                          1e-2);
  compare_backends_scaled({randn({64, 512}, DType::f32, 23), randn({10, 512}, DType::f32, 24),
                           randn({10}, DType::f32, 25)},
                          {true, true, true},
                          [](Tape& t, const std::vector<Var>& v) { return linear(t, v[0], v[1], v[2]); }, 1e-2);
}

TEST(OpsMatmulGpu, GemmTransposesAlphaBeta) {
  SP_REQUIRE_GPU();
  Tf32Scope fp32(false);
  Stream& g = gpu_stream();
  for (DType dt : {DType::f32, DType::f64})
    for (bool ta : {false, true})
      for (bool tb : {false, true}) {
        int64_t m = 13, k = 29, n = 6;
        Tensor a = randn(ta ? Shape{2, k, m} : Shape{2, m, k}, dt, 26);
        Tensor b = randn(tb ? Shape{2, n, k} : Shape{2, k, n}, dt, 27);
        Tensor c = randn({2, m, n}, dt, 28);
        Tensor cg = c.to(g.device(), g);
        gemm(Stream::cpu(), c, a, b, ta, tb, 0.75, 0.5);
        gemm(g, cg, a.to(g.device(), g), b.to(g.device(), g), ta, tb, 0.75, 0.5);
        EXPECT_TRUE(all_close(cg, c, 1e-5, 1e-5, g)) << ta << tb;
      }
}

TEST(OpsMatmulGpu, GemmBf16) {
  SP_REQUIRE_GPU();
  Stream& g = gpu_stream();
  Tensor a = randn({64, 128}, DType::f32, 29).to(DType::bf16), b = randn({128, 32}, DType::f32, 30).to(DType::bf16);
  Tensor c = Tensor::empty({64, 32}, DType::bf16), cg = Tensor::empty({64, 32}, DType::bf16, g);
  gemm(Stream::cpu(), c, a, b, false, false);
  gemm(g, cg, a.to(g.device(), g), b.to(g.device(), g), false, false);
  // Both accumulate in f32 and round once to bf16 (8 bits of mantissa).
  EXPECT_TRUE(all_close(cg, c, 1e-2, 5e-2, g));
}

TEST(OpsMatmulGpu, ChannelBiasKernels) {
  SP_REQUIRE_GPU();
  Stream& g = gpu_stream();
  Tensor gy = randn({16, 8, 32, 32}, DType::f32, 31), db = randn({8}, DType::f32, 32);
  Tensor dbg = db.to(g.device(), g);
  channel_bias_grad(Stream::cpu(), db, gy, 1.0, "test");
  channel_bias_grad(g, dbg, gy.to(g.device(), g), 1.0, "test");
  EXPECT_TRUE(all_close(dbg, db, 1e-5, 1e-3, g));
  Tensor y = randn({3, 8, 5, 5}, DType::f64, 33), b = randn({8}, DType::f64, 34);
  Tensor yg = y.to(g.device(), g);
  channel_bias_add(Stream::cpu(), y, b, "test");
  channel_bias_add(g, yg, b.to(g.device(), g), "test");
  EXPECT_TRUE(all_close(yg, y, 1e-15, 1e-15, g));
}

TEST(OpsMatmulGpu, DeviceMismatchThrows) {
  SP_REQUIRE_GPU();
  Stream& g = gpu_stream();
  Tensor a = Tensor::zeros({2, 3}, DType::f32, g), b = Tensor::zeros({3, 4}, DType::f32);
  Tensor c = Tensor::empty({2, 4}, DType::f32, g);
  try {
    gemm(g, c, a, b, false, false, 1.0, 0.0, "matmul");
    ADD_FAILURE() << "device mismatch accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("matmul"), std::string::npos) << e.what();
  }
  EXPECT_THROW(gemm(Stream::cpu(), c, a, Tensor::zeros({3, 4}, DType::f32, g), false, false), Error);
}
