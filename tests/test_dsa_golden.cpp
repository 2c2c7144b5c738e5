// The DSA affine warp against PyTorch (shared/golden/second_order_convnet3_w8.safetensors):
// grid_sample(x_syn, affine_grid(theta, size, align_corners=True), bilinear, zeros, align_corners=True) and
// the gradient of sum(out * cotangent) w.r.t. x_syn, in f64 (1e-9 relative) and f32 (1e-4).
#include <cstdio>

#include "kernels/grid_sample.h"
#include "nn/ops_augment.h"
#include "nn/safetensors.h"
#include "tests/golden_util.h"
#include "tests/model_golden.h"

using namespace sp;
using namespace sp::test;

TEST(DsaGolden, AffineWarpMatchesPyTorch) {
  SP_REQUIRE_GOLDEN(path, "second_order_convnet3_w8.safetensors");
  TensorFile f = load_safetensors(path);
  const Tensor& x = f.at("input/x_syn");
  ASSERT_EQ(x.shape(), (Shape{10, 3, 32, 32}));
  ASSERT_EQ(f.at("input/affine_theta").shape(), (Shape{10, 2, 3}));
  for (DType dt : {DType::f64, DType::f32}) {
    const double tol = dt == DType::f64 ? 1e-9 : 1e-4;
    Stream& s = Stream::cpu();
    Tape t(s);
    Var xv = t.leaf(x.to(dt), true);
    Tensor grid = affine_grid_tensor(s, f.at("input/affine_theta").to(dt), 32, 32, true);
    Var out = ag::grid_sample(t, xv, grid, true);
    Tensor cot = f.at("input/affine_cotangent").to(dt);
    std::vector<Tensor> g = t.grad(out, {xv}, &cot);
    const double e_out = normwise_rel_error(t.value(out), f.at("out/affine"), s);
    const double e_grad = normwise_rel_error(g[0], f.at("grad/affine/x_syn"), s);
    std::printf("affine warp %s: out error %.3g, gradient error %.3g (normwise relative)\n",
                std::string(dtype_name(dt)).c_str(), e_out, e_grad);
    EXPECT_LE(e_out, tol) << dtype_name(dt);
    EXPECT_LE(e_grad, tol) << dtype_name(dt);
  }
}
