// batch_norm, group_norm, instance_norm: CUDA against the CPU reference in f32, forward and every input
// gradient, on shapes that take each kernel path (split channel reductions at ResNet-18 size [64, 64, 32,
// 32], warp- and block-per-segment group statistics, [N, C] inputs), plus running statistics after train
// steps, and the double backward (train and eval batch norm, with and without affine).
#include "nn/ops_norm.h"
#include "tests/gpu/gpu_test_util.h"

using namespace sp;
using namespace sp::ag;
using namespace sp::test;

SP_BACKEND_TESTED(batch_norm);
SP_BACKEND_TESTED(group_norm);
SP_BACKEND_TESTED(instance_norm);
SP_BACKEND2_TESTED(batch_norm);
SP_BACKEND2_TESTED(group_norm);
SP_BACKEND2_TESTED(instance_norm);

namespace {

// Per-channel tensors of one value set on both devices, so the two runs start from the same state.
struct TwinStats {
  Tensor cpu_mean, cpu_var, gpu_mean, gpu_var;
  TwinStats(int64_t C, uint64_t seed) {
    cpu_mean = randn({C}, DType::f32, seed);
    cpu_var = rand_uniform({C}, DType::f32, seed + 1, 0.5, 2.0);
    gpu_mean = cpu_mean.to(gpu_stream().device(), gpu_stream());
    gpu_var = cpu_var.to(gpu_stream().device(), gpu_stream());
  }
  const Tensor& mean(Tape& t) const { return t.stream().is_cuda() ? gpu_mean : cpu_mean; }
  const Tensor& var(Tape& t) const { return t.stream().is_cuda() ? gpu_var : cpu_var; }
};

// Tolerances for f32: reductions over 65536 values per channel differ in summation order.
double rtol_for(const Shape& s) { return s.numel() > 100000 ? 1e-3 : 1e-4; }

}  // namespace

TEST(OpsNormGpu, BatchNormTrainMatchesCpu) {
  SP_REQUIRE_GPU();
  for (Shape s : {Shape{8, 3, 5, 7}, Shape{16, 10}, Shape{3, 5, 1, 1}, Shape{2, 4, 128, 128}, Shape{64, 64, 32, 32}}) {
    const int64_t C = s[1];
    TwinStats st(C, 7);
    std::vector<Tensor> in = {randn(s, DType::f32, 1, 2.0, 1.0), randn({C}, DType::f32, 2), randn({C}, DType::f32, 3)};
    compare_backends(
        in, {true, true, true},
        [&](Tape& t, const std::vector<Var>& v) {
          return batch_norm(t, v[0], v[1], v[2], st.mean(t), st.var(t), true, 0.1);
        },
        rtol_for(s), 1e-3);
    EXPECT_TRUE(all_close(st.gpu_mean, st.cpu_mean, 1e-5, 1e-6, gpu_stream())) << "running_mean " << s;
    EXPECT_TRUE(all_close(st.gpu_var, st.cpu_var, 1e-5, 1e-6, gpu_stream())) << "running_var " << s;
  }
}

TEST(OpsNormGpu, BatchNormEvalAndPartialGradientsMatchCpu) {
  SP_REQUIRE_GPU();
  for (Shape s : {Shape{8, 3, 5, 7}, Shape{32, 16, 16, 16}, Shape{9, 6}}) {
    const int64_t C = s[1];
    TwinStats st(C, 11);
    std::vector<Tensor> in = {randn(s, DType::f32, 4, 1.5), randn({C}, DType::f32, 5), randn({C}, DType::f32, 6)};
    auto eval = [&](Tape& t, const std::vector<Var>& v) {
      return batch_norm(t, v[0], v[1], v[2], st.mean(t), st.var(t), false);
    };
    compare_backends(in, {true, true, true}, eval, 1e-4, 1e-4);
    compare_backends(in, {true, false, false}, eval, 1e-4, 1e-4);  // dx only: no reductions
    compare_backends(
        in, {false, true, false},
        [&](Tape& t, const std::vector<Var>& v) {
          return batch_norm(t, v[0], v[1], v[2], st.mean(t), st.var(t), true);
        },
        1e-4, 1e-3);
    compare_backends(
        {in[0]}, {true},
        [](Tape& t, const std::vector<Var>& v) {  // no affine, no running stats
          return batch_norm(t, v[0], {}, {}, Tensor(), Tensor(), true);
        },
        1e-4, 1e-4);
  }
}

TEST(OpsNormGpu, RunningStatsAfterTrainStepsEqual) {
  SP_REQUIRE_GPU();
  Stream& g = gpu_stream();
  const Shape s{32, 8, 6, 6};
  TwinStats st(8, 21);
  Tensor w = randn({8}, DType::f32, 22), b = randn({8}, DType::f32, 23);
  for (int step = 0; step < 3; ++step) {
    Tensor x = randn(s, DType::f32, 100 + step, 3.0, 0.5 * step);
    for (bool gpu : {false, true}) {
      Stream& ts = gpu ? g : Stream::cpu();
      Tape t(ts);
      Var xv = t.leaf(x.to(ts.device(), ts), true);
      Var y = batch_norm(t, xv, t.leaf(w.to(ts.device(), ts), true), t.leaf(b.to(ts.device(), ts), true), st.mean(t),
                         st.var(t), true, 0.2);
      Tensor seed = Tensor::full(s, 1.0, DType::f32, ts);
      t.grad(y, {xv}, &seed);  // the backward must leave the running statistics alone
    }
  }
  g.synchronize();
  EXPECT_TRUE(all_close(st.gpu_mean, st.cpu_mean, 1e-5, 1e-6, g));
  EXPECT_TRUE(all_close(st.gpu_var, st.cpu_var, 1e-5, 1e-6, g));
}

TEST(OpsNormGpu, GroupNormMatchesCpu) {
  SP_REQUIRE_GPU();
  struct Case {
    Shape s;
    int64_t groups;
  };
  // Group lengths 35..210 (warp), 4096 and 3200 (block); planes of 1600 (block); [N, C]; instance norm at
  // ConvNet-3 size.
  for (Case c : {Case{{8, 6, 5, 7}, 1}, Case{{8, 6, 5, 7}, 2}, Case{{8, 6, 5, 7}, 3}, Case{{8, 6, 5, 7}, 6},
                 Case{{16, 64, 8, 8}, 1}, Case{{4, 4, 40, 40}, 2}, Case{{5, 12}, 4}, Case{{64, 64, 32, 32}, 64}}) {
    const int64_t C = c.s[1];
    std::vector<Tensor> in = {randn(c.s, DType::f32, 31, 2.0, -1.0), randn({C}, DType::f32, 32),
                              randn({C}, DType::f32, 33)};
    const int64_t G = c.groups;
    compare_backends(
        in, {true, true, true}, [G](Tape& t, const std::vector<Var>& v) { return group_norm(t, v[0], G, v[1], v[2]); },
        rtol_for(c.s), 1e-3);
    compare_backends(
        {in[0]}, {true}, [G](Tape& t, const std::vector<Var>& v) { return group_norm(t, v[0], G); }, rtol_for(c.s),
        1e-3);
  }
}

TEST(OpsNormGpu, InstanceNormMatchesCpu) {
  SP_REQUIRE_GPU();
  for (Shape s : {Shape{8, 3, 32, 32}, Shape{2, 5, 3, 3}}) {
    std::vector<Tensor> in = {randn(s, DType::f32, 41, 1.0, 2.0), randn({s[1]}, DType::f32, 42),
                              randn({s[1]}, DType::f32, 43)};
    compare_backends(
        in, {true, true, true}, [](Tape& t, const std::vector<Var>& v) { return instance_norm(t, v[0], v[1], v[2]); },
        1e-4, 1e-3);
    compare_backends(
        in, {false, true, true}, [](Tape& t, const std::vector<Var>& v) { return instance_norm(t, v[0], v[1], v[2]); },
        1e-4, 1e-3);
  }
}

TEST(OpsNormGpu, BatchNormDoubleBackwardMatchesCpu) {
  SP_REQUIRE_GPU();
  for (Shape s : {Shape{8, 3, 5, 7}, Shape{16, 10}}) {
    const int64_t C = s[1];
    TwinStats st(C, 51);
    std::vector<Tensor> in = {randn(s, DType::f32, 52, 2.0, 1.0), randn({C}, DType::f32, 53),
                              randn({C}, DType::f32, 54)};
    for (bool training : {true, false}) {
      compare_double_backward(
          in, {true, true, true},
          [&](Tape& t, const std::vector<Var>& v) {
            return batch_norm(t, v[0], v[1], v[2], st.mean(t), st.var(t), training);
          },
          1e-3, 1e-4);
      compare_double_backward(
          {in[0]}, {true},
          [&](Tape& t, const std::vector<Var>& v) {
            return batch_norm(t, v[0], {}, {}, st.mean(t), st.var(t), training);
          },
          1e-3, 1e-4);
    }
  }
}

TEST(OpsNormGpu, GroupNormDoubleBackwardMatchesCpu) {
  SP_REQUIRE_GPU();
  for (int64_t G : {1, 2, 6}) {
    std::vector<Tensor> in = {randn({4, 6, 5, 3}, DType::f32, 55, 2.0, -1.0), randn({6}, DType::f32, 56),
                              randn({6}, DType::f32, 57)};
    compare_double_backward(
        in, {true, true, true}, [G](Tape& t, const std::vector<Var>& v) { return group_norm(t, v[0], G, v[1], v[2]); },
        1e-3, 1e-4);
    compare_double_backward(
        {in[0]}, {true}, [G](Tape& t, const std::vector<Var>& v) { return group_norm(t, v[0], G); }, 1e-3, 1e-4);
  }
}

TEST(OpsNormGpu, InstanceNormDoubleBackwardMatchesCpu) {
  SP_REQUIRE_GPU();
  std::vector<Tensor> in = {randn({3, 4, 6, 6}, DType::f32, 58, 1.0, 2.0), randn({4}, DType::f32, 59),
                            randn({4}, DType::f32, 60)};
  compare_double_backward(
      in, {true, true, true}, [](Tape& t, const std::vector<Var>& v) { return instance_norm(t, v[0], v[1], v[2]); },
      1e-3, 1e-4);
  compare_double_backward(
      {in[0]}, {true}, [](Tape& t, const std::vector<Var>& v) { return instance_norm(t, v[0]); }, 1e-3, 1e-4);
}
