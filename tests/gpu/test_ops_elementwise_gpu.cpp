// Elementwise ops: CUDA against the CPU reference (f32) for every activation and binary operator on
// several shapes, broadcast patterns, strided views and large |x|; device mismatch throws.
#include "kernels/elementwise.h"
#include "nn/ops_elementwise.h"
#include "tests/elementwise_op_table.h"
#include "tests/gpu/gpu_test_util.h"

using namespace sp;
using namespace sp::ag;
using namespace sp::test;

SP_BACKEND_TESTED(relu);
SP_BACKEND_TESTED(leaky_relu);
SP_BACKEND_TESTED(silu);
SP_BACKEND_TESTED(sigmoid);
SP_BACKEND_TESTED(tanh);
SP_BACKEND_TESTED(add);
SP_BACKEND_TESTED(sub);
SP_BACKEND_TESTED(mul);
SP_BACKEND_TESTED(div);

namespace {

const auto kActivations = activation_ops(0.1);
const auto kBinaries = binary_ops();

}  // namespace

TEST(OpsElementwiseGpu, ActivationsMatchCpu) {
  SP_REQUIRE_GPU();
  for (const auto& [name, f] : kActivations) {
    SCOPED_TRACE(name);
    for (Shape s : {Shape{1}, Shape{7, 13}, Shape{3, 4, 5, 6}, Shape{1000, 333}})
      compare_backends({randn(s, DType::f32, 3, 2.0)}, {true},
                       [&f](Tape& t, const std::vector<Var>& v) { return f(t, v[0]); }, 1e-5, 1e-6);
    // Large |x|: sigmoid/silu must stay finite and agree.
    compare_backends({randn({4096}, DType::f32, 4, 60.0)}, {true},
                     [&f](Tape& t, const std::vector<Var>& v) { return f(t, v[0]); }, 1e-5, 1e-6);
    // A strided view as input (forward; the backward reads the same view through the same indexing).
    compare_backends({randn({64, 48}, DType::f32, 5)}, {true},
                     [&f](Tape& t, const std::vector<Var>& v) {
                       Var view = t.leaf(t.value(v[0]).transpose(0, 1).slice(0, 0, 48, 3), true);
                       return f(t, view);
                     },
                     1e-5, 1e-6, false);
  }
}

TEST(OpsElementwiseGpu, BinaryMatchesCpu) {
  SP_REQUIRE_GPU();
  std::vector<std::pair<Shape, Shape>> cases = {{{1000, 333}, {1000, 333}}, {{3, 1, 4}, {2, 1}},
                                                {{64, 32, 8, 8}, {1, 32, 1, 1}}, {{1000, 333}, {333}},
                                                {{}, {7, 13}},                   {{2, 1, 3}, {1, 4, 1}},
                                                {{1, 257}, {129, 1}}};
  for (const auto& [name, f] : kBinaries) {
    SCOPED_TRACE(name);
    uint64_t seed = 10;
    for (const auto& [sa, sb] : cases) {
      SCOPED_TRACE(sa.str() + " op " + sb.str());
      Tensor a = randn(sa, DType::f32, ++seed);
      Tensor b = std::string(name) == "div" ? rand_uniform(sb, DType::f32, ++seed, 0.5, 2.0)
                                            : randn(sb, DType::f32, ++seed);
      compare_backends({a, b}, {true, true},
                       [&f](Tape& t, const std::vector<Var>& v) { return f(t, v[0], v[1]); }, 1e-5, 1e-4);
    }
    // Strided operands: a transposed matrix and a stepped slice broadcast along rows.
    compare_backends({randn({96, 80}, DType::f32, 50), rand_uniform({160}, DType::f32, 51, 0.5, 2.0)},
                     {true, true},
                     [&f](Tape& t, const std::vector<Var>& v) {
                       Var a = t.leaf(t.value(v[0]).transpose(0, 1), true);
                       Var b = t.leaf(t.value(v[1]).slice(0, 0, 160, 2), true);
                       return f(t, a, b);
                     },
                     1e-5, 1e-5, false);
  }
}

TEST(OpsElementwiseGpu, InputUsedTwice) {
  SP_REQUIRE_GPU();
  compare_backends({randn({300, 7}, DType::f32, 8)}, {true},
                   [](Tape& t, const std::vector<Var>& v) { return add(t, v[0], mul(t, v[0], v[0])); }, 1e-5, 1e-5);
}

TEST(OpsElementwiseGpu, DeviceMismatchThrows) {
  SP_REQUIRE_GPU();
  Stream& g = gpu_stream();
  Tensor a = Tensor::zeros({4, 3}, DType::f32);
  Tensor b = a.to(g.device(), g);
  Tensor out = Tensor::empty({4, 3}, DType::f32, g);
  EXPECT_THROW(binary(g, out, b, a, BinaryOp::add), Error);
  EXPECT_THROW(binary(g, out, a, b, BinaryOp::mul), Error);
  EXPECT_THROW(activation(g, out, a, Act::relu), Error);
  EXPECT_THROW(activation(Stream::cpu(), a, b, Act::relu), Error);
}
