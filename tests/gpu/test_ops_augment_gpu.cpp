// grid_sample / grid_sample_grad / remap / remap_grad, the affine_grid kernel and every DSA group on CUDA
// against the CPU reference: forward, first-order and double backward (f32 and f64), kernel beta
// accumulation, and identical draws applied on both backends.
#include "kernels/grid_sample.h"
#include "kernels/remap.h"
#include "nn/dsa.h"
#include "nn/ops_augment.h"
#include "tests/gpu/gpu_test_util.h"

using namespace sp;
using namespace sp::test;

SP_BACKEND_TESTED(grid_sample);
SP_BACKEND_TESTED(grid_sample_grad);
SP_BACKEND_TESTED(remap);
SP_BACKEND_TESTED(remap_grad);
SP_BACKEND2_TESTED(grid_sample);
SP_BACKEND2_TESTED(grid_sample_grad);
SP_BACKEND2_TESTED(remap);
SP_BACKEND2_TESTED(remap_grad);

namespace {

// A constant on the tape's device.
Tensor on(Tape& t, const Tensor& c) { return c.to(t.stream().device(), t.stream()); }

Var squared(Tape& t, Var y) { return ag::mul(t, y, y); }

}  // namespace

TEST(OpsAugmentGpu, AffineGridMatchesCpu) {
  SP_REQUIRE_GPU();
  Stream& gs = gpu_stream();
  for (bool align : {true, false})
    for (DType dt : {DType::f32, DType::f64}) {
      Tensor theta = randn({5, 2, 3}, dt, 1);
      Tensor c = affine_grid_tensor(Stream::cpu(), theta, 7, 9, align);
      Tensor g = affine_grid_tensor(gs, theta.to(gs.device(), gs), 7, 9, align);
      EXPECT_TRUE(all_close(g, c, 1e-5, 1e-5, gs));  // f32: FMA contraction may differ
    }
}

TEST(OpsAugmentGpu, GridSampleMatchesCpu) {
  SP_REQUIRE_GPU();
  struct C {
    Shape x;
    int64_t oh, ow;
  };
  for (C k : {C{{2, 3, 5, 7}, 4, 6}, C{{10, 3, 32, 32}, 32, 32}, C{{3, 1, 1, 4}, 2, 3}})
    for (bool align : {true, false})
      for (DType dt : {DType::f32, DType::f64}) {
        Tensor grid = rand_uniform({k.x[0], k.oh, k.ow, 2}, dt, 2, -1.3, 1.3);
        const double tol = dt == DType::f32 ? 1e-5 : 1e-12;
        auto f = [grid, align](Tape& t, const std::vector<Var>& v) {
          return ag::grid_sample(t, v[0], on(t, grid), align);
        };
        compare_backends({randn(k.x, dt, 3)}, {true}, f, tol, tol);
        compare_double_backward(
            {randn(k.x, dt, 4)}, {true}, [f](Tape& t, const std::vector<Var>& v) { return squared(t, f(t, v)); }, tol,
            tol);
        auto g = [grid, align, k](Tape& t, const std::vector<Var>& v) {
          return ag::grid_sample_grad(t, v[0], on(t, grid), k.x[2], k.x[3], align);
        };
        Shape gy{k.x[0], k.x[1], k.oh, k.ow};
        compare_backends({randn(gy, dt, 5)}, {true}, g, tol, tol);
        compare_double_backward(
            {randn(gy, dt, 6)}, {true}, [g](Tape& t, const std::vector<Var>& v) { return squared(t, g(t, v)); }, tol,
            tol);
      }
}

TEST(OpsAugmentGpu, RemapMatchesCpu) {
  SP_REQUIRE_GPU();
  Tensor p = Tensor::from_vector<int32_t>({1, -1, 0, 0, 2, 1, -4, 0, 1, 0, 0, 0}, {4, 3});
  for (DType dt : {DType::f32, DType::f64})
    for (bool adjoint : {false, true}) {
      auto f = [p, adjoint](Tape& t, const std::vector<Var>& v) {
        return adjoint ? ag::remap_grad(t, v[0], on(t, p)) : ag::remap(t, v[0], on(t, p));
      };
      compare_backends({randn({4, 3, 8, 6}, dt, 7)}, {true}, f, 0, 0);
      compare_double_backward(
          {randn({4, 3, 8, 6}, dt, 8)}, {true}, [f](Tape& t, const std::vector<Var>& v) { return squared(t, f(t, v)); },
          dt == DType::f32 ? 1e-6 : 1e-14, 1e-6);
    }
}

TEST(OpsAugmentGpu, KernelsAccumulateWithBeta) {
  SP_REQUIRE_GPU();
  Stream& gs = gpu_stream();
  Tensor x = randn({2, 3, 6, 5}, DType::f32, 9), grid = rand_uniform({2, 4, 4, 2}, DType::f32, 10, -1.1, 1.1);
  Tensor gy = randn({2, 3, 4, 4}, DType::f32, 11), p = Tensor::from_vector<int32_t>({1, 2, 1, -1, 0, 0}, {2, 3});
  Tensor xg = x.to(gs.device(), gs), gridg = grid.to(gs.device(), gs), gyg = gy.to(gs.device(), gs),
         pg = p.to(gs.device(), gs);
  GridSampleGeom g = grid_sample_geometry("test", x, grid, false);
  auto check = [&](const Shape& shape, auto&& cpu, auto&& gpu, const char* what) {
    Tensor d = randn(shape, DType::f32, 12), dg = d.to(gs.device(), gs);
    cpu(d);
    gpu(dg);
    EXPECT_TRUE(all_close(dg, d, 1e-5, 1e-5, gs)) << what;
  };
  check(
      gy.shape(), [&](Tensor& d) { grid_sample_forward(Stream::cpu(), d, x, grid, g, 0.5); },
      [&](Tensor& d) { grid_sample_forward(gs, d, xg, gridg, g, 0.5); }, "grid_sample");
  check(
      x.shape(), [&](Tensor& d) { grid_sample_backward(Stream::cpu(), d, gy, grid, g, 2.0); },
      [&](Tensor& d) { grid_sample_backward(gs, d, gyg, gridg, g, 2.0); }, "grid_sample backward");
  check(
      x.shape(), [&](Tensor& d) { remap_forward(Stream::cpu(), d, x, p, true, 1.0); },
      [&](Tensor& d) { remap_forward(gs, d, xg, pg, true, 1.0); }, "remap");
}

TEST(OpsAugmentGpu, DsaGroupsMatchCpu) {
  SP_REQUIRE_GPU();
  const dsa::Group all[] = {dsa::Group::color, dsa::Group::crop,  dsa::Group::cutout,
                            dsa::Group::flip,  dsa::Group::scale, dsa::Group::rotate};
  for (dsa::Group grp : all)
    for (bool siamese : {false, true}) {
      dsa::AugDraw d = dsa::draw({grp}, {}, 6, 16, 16, 4, 2, siamese);
      auto f = [d](Tape& t, const std::vector<Var>& v) { return dsa::apply(t, v[0], d); };
      compare_backends({randn({6, 3, 16, 16}, DType::f32, 13)}, {true}, f, 1e-5, 1e-5);
      compare_double_backward(
          {randn({6, 3, 16, 16}, DType::f64, 14)}, {true},
          [f](Tape& t, const std::vector<Var>& v) { return squared(t, f(t, v)); }, 1e-11, 1e-11);
    }
}
