// Trajectory matching on the GPU: the meta-gradient of a few unrolled steps of a small ConvNet-3 with
// per-sample DSA and soft labels (nn/trajectory_matching.h) on CUDA (TF32 off) equals the CPU reference in
// both modes, and the adjoint mode equals the unrolled one on the GPU as well. Skips without a GPU.
#include <cmath>

#include "nn/dsa.h"
#include "nn/trajectory_matching.h"
#include "tests/gpu/gpu_test_util.h"
#include "tests/test_util.h"

using namespace sp;

TEST(TrajectoryMatchingGpu, BothModesMatchTheCpu) {
  SP_REQUIRE_GPU();
  Stream& g = test::gpu_stream();
  const bool tf32 = g.allow_tf32;
  g.allow_tf32 = false;
  ModelConfig mc;
  mc.name = "convnet3";
  mc.width = 8;
  std::unique_ptr<Model> net = make_model(mc);
  const int64_t P = net->params().numel(), n = 20;
  Tensor theta = Tensor::empty({P}, DType::f32);
  net->init(Stream::cpu(), theta, Tensor(), 3);
  TrajectoryMatchArgs c;
  c.model = net.get();
  c.theta_start = theta;
  c.theta_target = test::randn({P}, DType::f32, 4, 0.02);
  {
    auto u = test::as_doubles(theta), v = test::as_doubles(c.theta_target);
    for (size_t i = 0; i < u.size(); ++i) v[i] += u[i];
    c.theta_target = Tensor::from_vector(v, {P}).to(DType::f32);
  }
  c.images = test::randn({n, 3, 32, 32}, DType::f32, 5);
  c.label_logits = test::randn({n, 10}, DType::f32, 6);
  c.lr = 0.02;
  c.batches = {{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, {10, 11, 12, 13, 14, 15, 16, 17, 18, 19}, {3, 4, 5, 16, 17}};
  auto draws = std::make_shared<std::vector<dsa::AugDraw>>();
  dsa::DsaParams p;
  std::vector<dsa::Group> strategy = dsa::parse_strategy("color_crop_cutout_flip_scale_rotate");
  for (size_t k = 0; k < c.batches.size(); ++k)
    draws->push_back(dsa::draw(strategy, p, int64_t(c.batches[k].size()), 32, 32, 8, k, false));
  c.aug = [draws](Tape& t, Var x, int64_t k) { return dsa::apply(t, x, (*draws)[size_t(k)]); };
  TrajectoryMatchArgs gg = c;
  gg.theta_start = c.theta_start.to(g.device(), g);
  gg.theta_target = c.theta_target.to(g.device(), g);
  gg.images = c.images.to(g.device(), g);
  gg.label_logits = c.label_logits.to(g.device(), g);
  TrajectoryMatchResult ref = trajectory_match(Stream::cpu(), c, MetaGradMode::unrolled);
  for (MetaGradMode mode : {MetaGradMode::unrolled, MetaGradMode::adjoint}) {
    SCOPED_TRACE(meta_grad_mode_name(mode));
    TrajectoryMatchResult r = trajectory_match(g, gg, mode);
    EXPECT_NEAR(r.loss, ref.loss, 1e-4 * ref.loss);
    EXPECT_NEAR(r.grad_lr, ref.grad_lr, 1e-3 * std::abs(ref.grad_lr));
    EXPECT_TRUE(test::all_close(r.grad_images.to(Device::cpu(), g), ref.grad_images, 1e-2, 1e-3 * test::max_abs(ref.grad_images)));
    EXPECT_TRUE(test::all_close(r.grad_label_logits.to(Device::cpu(), g), ref.grad_label_logits, 1e-2,
                                1e-3 * test::max_abs(ref.grad_label_logits)));
  }
  g.allow_tf32 = tf32;
}
