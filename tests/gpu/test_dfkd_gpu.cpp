// Data-free distillation's synthesis on the GPU: the generator, the differentiable crop/flip, the teacher with
// its BatchNorm trace, the momentum-blended statistics loss, Fast's one-hot and adversarial terms and the meta
// step give on CUDA (TF32 off) the losses and 8-bit images of the CPU reference (paradigms/dfkd/synthesizer.h).
// Skips without a GPU.
#include <cmath>

#include "paradigms/dfkd/synthesizer.h"
#include "tests/gpu/gpu_test_util.h"
#include "tests/test_util.h"

using namespace sp;

namespace {

struct Nets {
  std::unique_ptr<Model> teacher, student;
  Tensor tt, tb, st, sb;
  Nets() {
    ModelConfig mc;
    mc.name = "resnet18";
    mc.width = 4;
    mc.image_size = 16;
    teacher = make_model(mc);
    student = make_model(mc);
    tt = Tensor::empty({teacher->params().numel()}, DType::f32);
    tb = Tensor::empty({teacher->buffers().numel()}, DType::f32);
    teacher->init(Stream::cpu(), tt, tb, 3);
    tb.copy_(test::rand_uniform(tb.shape(), DType::f32, 4, 0.2, 1.2));
    st = Tensor::empty({student->params().numel()}, DType::f32);
    sb = Tensor::empty({student->buffers().numel()}, DType::f32);
    student->init(Stream::cpu(), st, sb, 5);
  }
};

void compare(dfkd::Method method) {
  SP_REQUIRE_GPU();
  Stream& g = test::gpu_stream();
  const bool tf32 = g.allow_tf32;
  g.allow_tf32 = false;
  Nets n;
  dfkd::DfkdConfig c;
  c.method = method;
  c.latent = 16;
  c.width = 8;
  c.warmup = 1;
  c.synthesis.batch = 12;
  c.synthesis.g_steps = 3;
  if (method == dfkd::Method::fast) {
    c.synthesis.meta = true;
    c.synthesis.bn_weight = 10;
    c.synthesis.oh_weight = 0.5;
    c.synthesis.adv_weight = 1.33;
  }
  auto make = [&](Stream& s, dfkd::FrozenModel& student) {
    dfkd::FrozenModel teacher{n.teacher.get(), n.tt.to(s.device(), s), n.tb.to(s.device(), s)};
    student = {n.student.get(), n.st.to(s.device(), s), n.sb.to(s.device(), s)};
    return dfkd::Synthesizer(c, teacher, 10, Shape{3, 16, 16}, data::Normalization::cifar10(), s, 9);
  };
  dfkd::FrozenModel sc, sg;
  dfkd::Synthesizer cpu = make(Stream::cpu(), sc), gpu = make(g, sg);
  for (int e = 0; e < 3; ++e) {
    SCOPED_TRACE("epoch " + std::to_string(e));
    dfkd::SynthesisResult a = cpu.synthesize(e, sc), b = gpu.synthesize(e, sg);
    EXPECT_NEAR(b.best_loss, a.best_loss, 1e-3 * std::abs(a.best_loss));
    EXPECT_NEAR(b.bn_loss, a.bn_loss, 1e-3 * std::abs(a.bn_loss));
    std::vector<uint8_t> x = a.images.to_vector<uint8_t>(), y = b.images.to_vector<uint8_t>();
    ASSERT_EQ(x.size(), y.size());
    size_t off = 0;
    int worst = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      const int d = std::abs(int(x[i]) - int(y[i]));
      off += d != 0;
      worst = std::max(worst, d);
    }
    EXPECT_LE(worst, 1) << "8-bit images differ by at most a rounding step";
    EXPECT_LE(double(off), 0.01 * double(x.size()));
  }
  g.allow_tf32 = tf32;
}

}  // namespace

TEST(DfkdGpu, BnSynthesisMatchesTheCpu) { compare(dfkd::Method::bn); }
TEST(DfkdGpu, FastSynthesisMatchesTheCpu) { compare(dfkd::Method::fast); }
