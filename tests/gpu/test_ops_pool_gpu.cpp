// Pooling on CUDA against the CPU reference: max/avg over several windows (including a ResNet-sized
// plane and inputs with ties), global average pooling on small and large planes, and beta accumulation
// of the backward kernels.
#include <cmath>

#include "kernels/pool.h"
#include "nn/ops_conv.h"
#include "tests/gpu/gpu_compare.h"

using namespace sp;
using namespace sp::ag;
using namespace sp::test;

SP_BACKEND_TESTED(max_pool2d);
SP_BACKEND_TESTED(avg_pool2d);
SP_BACKEND_TESTED(global_avg_pool);

TEST(OpsPoolGpu, WindowsMatchCpu) {
  SP_REQUIRE_GPU();
  struct C {
    Shape x;
    Pool2dOptions o;
  };
  const C cases[] = {
      {{2, 3, 6, 6}, {.kernel = 2}},
      {{4, 64, 32, 32}, {.kernel = 3, .stride = 2, .padding = 1}},
      {{2, 2, 5, 5}, {.kernel = 3, .stride = 1, .padding = 1}},
      {{1, 3, 5, 8}, {.kernel = {3, 2}, .stride = {1, 2}, .padding = {1, 0}}},
  };
  for (const C& c : cases)
    for (DType dt : {DType::f32, DType::f64}) {
      Pool2dOptions o = c.o;
      compare_backends({randn(c.x, dt, 1)}, {true}, [o](Tape& t, const std::vector<Var>& v) {
        return max_pool2d(t, v[0], o);
      }, 1e-6, 1e-6);
      compare_backends({randn(c.x, dt, 2)}, {true}, [o](Tape& t, const std::vector<Var>& v) {
        return avg_pool2d(t, v[0], o);
      }, 1e-5, 1e-6);
    }
}

TEST(OpsPoolGpu, MaxTiesPickTheSameElement) {
  SP_REQUIRE_GPU();
  // Integers in [0, 3): many ties inside each window; both backends must route to the first maximum.
  std::vector<float> v(2 * 4 * 9 * 9);
  for (size_t i = 0; i < v.size(); ++i) v[i] = float((i * 7919) % 3);
  compare_backends({Tensor::from_vector(v, {2, 4, 9, 9})}, {true},
                   [](Tape& t, const std::vector<Var>& x) { return max_pool2d(t, x[0], {.kernel = 3, .stride = 2}); },
                   0, 0);
}

TEST(OpsPoolGpu, GlobalAvgPoolMatchesCpu) {
  SP_REQUIRE_GPU();
  for (Shape s : {Shape{4, 512, 4, 4}, Shape{2, 64, 32, 32}, Shape{3, 5, 1, 1}})
    compare_backends({randn(s, DType::f32, 3)}, {true},
                     [](Tape& t, const std::vector<Var>& v) { return global_avg_pool(t, v[0]); }, 1e-5, 1e-6);
}

TEST(OpsPoolGpu, BackwardKernelsAccumulateWithBeta) {
  SP_REQUIRE_GPU();
  Stream& gs = gpu_stream();
  Tensor x = randn({2, 3, 8, 8}, DType::f32, 4);
  Pool2dGeom g = pool2d_geometry("test", x, 3, 2, 1);
  Tensor y = Tensor::empty({2, 3, g.oh, g.ow}, DType::f32), arg = Tensor::empty(y.shape(), DType::i32);
  max_pool2d_forward(Stream::cpu(), y, arg, x, g);
  Tensor gy = randn(y.shape(), DType::f32, 5), gy2 = randn({2, 3}, DType::f32, 6);
  Tensor gyg = gy.to(gs.device(), gs), argg = arg.to(gs.device(), gs), gy2g = gy2.to(gs.device(), gs);
  auto check = [&](auto&& cpu, auto&& gpu, const char* what) {
    Tensor d = randn(x.shape(), DType::f32, 7), dg = d.to(gs.device(), gs);
    cpu(d);
    gpu(dg);
    EXPECT_TRUE(all_close(dg, d, 1e-6, 1e-6, gs)) << what;
  };
  check([&](Tensor& d) { max_pool2d_backward(Stream::cpu(), d, gy, arg, g, 0.5); },
        [&](Tensor& d) { max_pool2d_backward(gs, d, gyg, argg, g, 0.5); }, "max");
  check([&](Tensor& d) { avg_pool2d_backward(Stream::cpu(), d, gy, g, 1.0); },
        [&](Tensor& d) { avg_pool2d_backward(gs, d, gyg, g, 1.0); }, "avg");
  check([&](Tensor& d) { global_avg_pool_backward(Stream::cpu(), d, gy2, 2.0); },
        [&](Tensor& d) { global_avg_pool_backward(gs, d, gy2g, 2.0); }, "global");
}
