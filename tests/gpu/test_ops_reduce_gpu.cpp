// Reductions: CUDA against the CPU reference (f32) on every kernel layout -- one output per block, per
// warp, per thread, and split reductions finished by a second kernel -- up to 1e7 elements; exact argmax
// agreement on data full of ties; bitwise determinism of a large sum; device mismatch throws.
#include <cmath>

#include "kernels/reduce.h"
#include "nn/ops_reduce.h"
#include "tests/gpu/gpu_test_util.h"

using namespace sp;
using namespace sp::ag;
using namespace sp::test;

SP_BACKEND_TESTED(sum);
SP_BACKEND_TESTED(mean);
SP_BACKEND_TESTED(max);

namespace {

struct Case {
  Shape shape;
  std::vector<int> axes;  // empty: all
  bool keepdim;
};

Var apply(Tape& t, Var x, int kind, const Case& c) {
  if (c.axes.empty()) return kind == 0 ? sum(t, x) : kind == 1 ? mean(t, x) : max(t, x);
  return kind == 0 ? sum(t, x, c.axes, c.keepdim) : kind == 1 ? mean(t, x, c.axes, c.keepdim)
                                                  : max(t, x, c.axes, c.keepdim);
}

const std::vector<Case> kCases = {
    {{4096, 2000}, {0}, false},     // one output per thread, split over rows
    {{4096, 2000}, {1}, true},      // one block per output
    {{4096, 2000}, {}, false},      // everything into one: split blocks + finish kernel
    {{10000000}, {0}, false},       // 1e7 elements
    {{300, 100}, {1}, false},       // one warp per output
    {{5000, 8}, {1}, false},        // short rows: one thread per output
    {{64, 32, 8, 8}, {0, 2, 3}, false},  // per-channel over NCHW
    {{2, 3, 4, 5}, {1, 3}, true},
    {{7}, {0}, false},
};

}  // namespace

TEST(OpsReduceGpu, MatchesCpu) {
  SP_REQUIRE_GPU();
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.shape.str());
    Tensor x = randn(c.shape, DType::f32, 17);
    for (int kind = 0; kind < 3; ++kind) {
      SCOPED_TRACE(kind);
      // Sums of up to 1e7 f32 terms: the CPU accumulates in double, CUDA in float along a tree.
      double rtol = kind == 2 ? 0.0 : 1e-4, atol = kind == 0 ? 2e-2 : kind == 1 ? 1e-6 : 0.0;
      compare_backends({x}, {true}, [&](Tape& t, const std::vector<Var>& v) { return apply(t, v[0], kind, c); },
                       rtol, atol);
    }
  }
}

TEST(OpsReduceGpu, StridedInput) {
  SP_REQUIRE_GPU();
  Tensor x = randn({2000, 1500}, DType::f32, 5);
  for (int axis : {0, 1}) {
    for (int kind = 0; kind < 3; ++kind) {
      compare_backends({x}, {true},
                       [&](Tape& t, const std::vector<Var>& v) {
                         Var tr = t.leaf(t.value(v[0]).transpose(0, 1), true);
                         return apply(t, tr, kind, Case{{}, {axis}, false});
                       },
                       kind == 2 ? 0.0 : 1e-4, kind == 2 ? 0.0 : 1e-3, false);
    }
  }
}

TEST(OpsReduceGpu, MaxTiesPickTheSameIndex) {
  SP_REQUIRE_GPU();
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.shape.str());
    // Values in {0, 1, 2, 3}: every output has many tied maxima; the gradient shows which one won.
    Tensor x = rand_uniform(c.shape, DType::f64, 23, 0.0, 4.0);
    std::vector<double> v = x.to_vector<double>();
    for (double& e : v) e = std::floor(e);
    compare_backends({Tensor::from_vector(v, c.shape).to(DType::f32)}, {true},
                     [&](Tape& t, const std::vector<Var>& in) { return apply(t, in[0], 2, c); }, 0.0, 0.0);
  }
}

TEST(OpsReduceGpu, LargeSumIsDeterministic) {
  SP_REQUIRE_GPU();
  Stream& g = gpu_stream();
  Tensor x = randn({10000000}, DType::f32, 3).to(g.device(), g);
  Tensor a = Tensor::empty({}, DType::f32, g), b = Tensor::empty({}, DType::f32, g);
  sum_to_shape(g, a, x);
  sum_to_shape(g, b, x);
  EXPECT_EQ(a.to_vector<float>(g), b.to_vector<float>(g));
  // f64 on the device against the CPU.
  Tensor xd = randn({3000, 700}, DType::f64, 4);
  Tensor cpu = Tensor::empty({700}, DType::f64), gpu = Tensor::empty({700}, DType::f64, g);
  sum_to_shape(Stream::cpu(), cpu, xd);
  sum_to_shape(g, gpu, xd.to(g.device(), g));
  EXPECT_TRUE(all_close(gpu, cpu, 1e-12, 1e-12, g));
}

TEST(OpsReduceGpu, SumToShapeAccumulates) {
  SP_REQUIRE_GPU();
  Stream& g = gpu_stream();
  Tensor x = randn({64, 32, 8, 8}, DType::f32, 6);
  Tensor cpu = randn({32, 1, 1}, DType::f32, 7);
  Tensor gpu = cpu.to(g.device(), g);
  sum_to_shape(Stream::cpu(), cpu, x, -0.5, 1.0);
  sum_to_shape(g, gpu, x.to(g.device(), g), -0.5, 1.0);
  EXPECT_TRUE(all_close(gpu, cpu, 1e-4, 1e-4, g));
}

TEST(OpsReduceGpu, DeviceMismatchThrows) {
  SP_REQUIRE_GPU();
  Stream& g = gpu_stream();
  Tensor x = Tensor::zeros({4, 3}, DType::f32);
  Tensor out = Tensor::empty({3}, DType::f32, g);
  EXPECT_THROW(sum_to_shape(g, out, x), Error);
  EXPECT_THROW(reduce_max(g, out, Tensor::empty({3}, DType::i64), x.to(g.device(), g)), Error);
}
