// conv2d on CUDA (cuDNN) against the CPU im2col reference: every distinct ResNet-18 CIFAR layer shape at
// batch 2 in fp32 (TF32 off, 5e-4 of the largest magnitude), a few with TF32 on (~1e-2), the general geometries
// (groups, depthwise, dilation, 5x5, non-square) with bias, f64, beta accumulation of both backward
// kernels, repeated calls through the plan cache, and device mismatch.
#include "kernels/conv.h"
#include "nn/ops_conv.h"
#include "tests/gpu/gpu_compare.h"

using namespace sp;
using namespace sp::ag;
using namespace sp::test;

SP_BACKEND_TESTED(conv2d);

namespace {

struct Layer {
  const char* name;
  int64_t c, hw, o, k, stride, pad;
};
// ResNet-18 for 32x32 inputs: stem, the four stages (first conv of stages 2-4 strides), 1x1 shortcuts.
const Layer kResNet[] = {
    {"stem 3->64", 3, 32, 64, 3, 1, 1},         {"64->64", 64, 32, 64, 3, 1, 1},
    {"64->128 s2", 64, 32, 128, 3, 2, 1},       {"128->128", 128, 16, 128, 3, 1, 1},
    {"128->256 s2", 128, 16, 256, 3, 2, 1},     {"256->256", 256, 8, 256, 3, 1, 1},
    {"256->512 s2", 256, 8, 512, 3, 2, 1},      {"512->512", 512, 4, 512, 3, 1, 1},
    {"shortcut 64->128", 64, 32, 128, 1, 2, 0}, {"shortcut 128->256", 128, 16, 256, 1, 2, 0},
    {"shortcut 256->512", 256, 8, 512, 1, 2, 0},
};

std::vector<Tensor> layer_inputs(const Layer& l, int64_t n, DType dt, uint64_t seed) {
  double fan_in = double(l.c * l.k * l.k);
  return {randn({n, l.c, l.hw, l.hw}, dt, seed), randn({l.o, l.c, l.k, l.k}, dt, seed + 1, 1.0 / std::sqrt(fan_in))};
}

// fp32 without TF32: cuDNN's FFT and Winograd algorithms (which the timed search may pick) differ from
// direct summation by up to ~1e-4 of a tensor's largest magnitude, so tolerances scale with it.
constexpr double kFp32Tol = 5e-4;

OpFn conv_fn(Conv2dParams p) {
  return [p](Tape& t, const std::vector<Var>& v) { return conv2d(t, v[0], v[1], v.size() > 2 ? v[2] : Var{}, p); };
}

}  // namespace

TEST(OpsConvGpu, ResNetShapesFp32) {
  SP_REQUIRE_GPU();
  Tf32Scope fp32(false);
  for (const Layer& l : kResNet) {
    SCOPED_TRACE(l.name);
    compare_backends_scaled(layer_inputs(l, 2, DType::f32, 1), {true, true},
                            conv_fn({.stride = l.stride, .padding = l.pad}), kFp32Tol);
  }
}

TEST(OpsConvGpu, ResNetShapesTf32) {
  SP_REQUIRE_GPU();
  Tf32Scope tf32(true);
  for (int i : {1, 4, 7, 9}) {
    const Layer& l = kResNet[i];
    SCOPED_TRACE(l.name);
    compare_backends_scaled(layer_inputs(l, 2, DType::f32, 2), {true, true},
                            conv_fn({.stride = l.stride, .padding = l.pad}), 1e-2);
  }
}

TEST(OpsConvGpu, GeneralGeometriesWithBias) {
  SP_REQUIRE_GPU();
  Tf32Scope fp32(false);
  struct G {
    Shape x, w;
    Conv2dParams p;
  };
  const G cases[] = {
      {{2, 4, 9, 9}, {6, 2, 3, 3}, {.padding = 1, .groups = 2}},
      {{2, 8, 9, 9}, {8, 1, 3, 3}, {.stride = 2, .padding = 1, .groups = 8}},
      {{1, 3, 11, 11}, {4, 3, 3, 3}, {.padding = 2, .dilation = 2}},
      {{2, 3, 8, 8}, {5, 3, 5, 5}, {.padding = 2}},
      {{2, 3, 7, 10}, {4, 3, 3, 2}, {.stride = {2, 1}, .padding = {1, 0}, .dilation = {1, 2}}},
  };
  for (const G& c : cases)
    compare_backends_scaled({randn(c.x, DType::f32, 3), randn(c.w, DType::f32, 4, 0.3), randn({c.w[0]}, DType::f32, 5)},
                            {true, true, true}, conv_fn(c.p), kFp32Tol);
}

TEST(OpsConvGpu, F64) {
  SP_REQUIRE_GPU();
  compare_backends({randn({2, 6, 8, 8}, DType::f64, 6), randn({4, 3, 3, 3}, DType::f64, 7), randn({4}, DType::f64, 8)},
                   {true, true, true}, conv_fn({.stride = 2, .padding = 1, .groups = 2}), 1e-10, 1e-10);
}

TEST(OpsConvGpu, BackwardKernelsAccumulateWithBeta) {
  SP_REQUIRE_GPU();
  Tf32Scope fp32(false);
  Stream& gs = gpu_stream();
  const Layer& l = kResNet[3];
  auto in = layer_inputs(l, 2, DType::f32, 9);
  Conv2dGeom g = conv2d_geometry(in[0], in[1], {.stride = l.stride, .padding = l.pad});
  Tensor gy = randn(g.y_shape(), DType::f32, 10);
  for (double beta : {1.0, 0.5}) {
    Tensor dx = randn(g.x_shape(), DType::f32, 11), dw = randn(g.w_shape(), DType::f32, 12);
    Tensor dxg = dx.to(gs.device(), gs), dwg = dw.to(gs.device(), gs);
    conv2d_backward_data(Stream::cpu(), dx, gy, in[1], g, beta);
    conv2d_backward_filter(Stream::cpu(), dw, gy, in[0], g, beta);
    conv2d_backward_data(gs, dxg, gy.to(gs.device(), gs), in[1].to(gs.device(), gs), g, beta);
    conv2d_backward_filter(gs, dwg, gy.to(gs.device(), gs), in[0].to(gs.device(), gs), g, beta);
    EXPECT_TRUE(all_close(dxg, dx, kFp32Tol, kFp32Tol * max_abs(dx), gs)) << "dx, beta " << beta;
    EXPECT_TRUE(all_close(dwg, dw, kFp32Tol, kFp32Tol * max_abs(dw), gs)) << "dw, beta " << beta;
  }
}

TEST(OpsConvGpu, CachedPlanGivesRepeatableResults) {
  SP_REQUIRE_GPU();
  Stream& gs = gpu_stream();
  auto in = layer_inputs(kResNet[5], 4, DType::f32, 13);
  Tensor x = in[0].to(gs.device(), gs), w = in[1].to(gs.device(), gs);
  Conv2dGeom g = conv2d_geometry(x, w, {.padding = 1});
  Tensor y1 = Tensor::empty(g.y_shape(), DType::f32, gs), y2 = Tensor::empty(g.y_shape(), DType::f32, gs);
  conv2d_forward(gs, y1, x, w, g);
  conv2d_forward(gs, y2, x, w, g);
  EXPECT_TRUE(all_close(y2, y1, 0, 0, gs));
}

TEST(OpsConvGpu, DeviceMismatchThrows) {
  SP_REQUIRE_GPU();
  Stream& gs = gpu_stream();
  Tensor x = Tensor::zeros({1, 2, 5, 5}, DType::f32, gs), w = Tensor::zeros({2, 2, 3, 3}, DType::f32);
  try {
    conv2d_geometry(x, w, {});
    ADD_FAILURE() << "device mismatch accepted";
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("conv2d"), std::string::npos) << m;
    EXPECT_NE(m.find("[1, 2, 5, 5]"), std::string::npos) << m;
  }
  Conv2dGeom g = conv2d_geometry(x, w.to(gs.device(), gs), {});
  Tensor y = Tensor::empty(g.y_shape(), DType::f32);
  EXPECT_THROW(conv2d_forward(gs, y, x, w.to(gs.device(), gs), g), Error);  // output on the CPU
}
