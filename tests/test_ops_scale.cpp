// scale and axpby: values, gradient check, bad input.
#include "kernels/axpby.h"
#include "nn/ops_scale.h"
#include "tests/test_util.h"

using namespace sp;
using namespace sp::ag;
using namespace sp::test;

SP_GRAD_TESTED(scale);

TEST(OpsScale, Forward) {
  Tape t(Stream::cpu());
  Var y = scale(t, t.leaf(Tensor::from_vector<float>({1, -2}, {2})), -1.5);
  EXPECT_EQ(t.value(y).to_vector<float>(), (std::vector<float>{-1.5f, 3.0f}));
}

TEST(OpsScale, Gradient) {
  check_gradients({randn({3, 4}, DType::f64, 1)}, {true},
                  [](Tape& t, const std::vector<Var>& v) { return scale(t, v[0], 0.7); });
}

TEST(OpsScale, AxpbyAccumulatesWithBeta) {
  Tensor y = Tensor::from_vector<double>({1, 2}, {2});
  axpby(Stream::cpu(), y, Tensor::from_vector<double>({10, 20}, {2}), 0.5, 2.0);
  EXPECT_EQ(y.to_vector<double>(), (std::vector<double>{7, 14}));
  EXPECT_THROW(axpby(Stream::cpu(), y, Tensor::zeros({3}, DType::f64), 1, 0), Error);
  EXPECT_THROW(axpby(Stream::cpu(), y, Tensor::zeros({2}, DType::f32), 1, 0), Error);
}
