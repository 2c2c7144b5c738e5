// Precision bf16 on CUDA (ModelConfig::bf16; the CPU pins its semantics in tests/test_models_bf16.cpp): under
// the stream policy bf16 sets (TF32 math, exact on bf16 operands) the models' logits are bf16 values, and the
// forward and backward match the CPU's emulation up to the roundings that summation order flips (one bf16 step
// at a few points, so a tolerance of a few percent of the largest magnitude). Skips without a GPU.
#include "kernels/round_bf16_math.h"
#include "nn/model.h"
#include "nn/precision.h"
#include "tests/gpu/gpu_compare.h"

using namespace sp;
using namespace sp::test;

TEST(ModelsBf16Gpu, MatchTheCpuEmulationAndStoreBf16Values) {
  SP_REQUIRE_GPU();
  Stream& g = gpu_stream();
  const bool was = g.allow_tf32;
  apply_precision(g, Precision::bf16);
  for (const char* name : {"resnet18", "wrn16_4", "convnet3"}) {
    SCOPED_TRACE(name);
    ModelConfig c;
    c.name = name;
    c.width = 8;
    c.image_size = 16;
    c.bf16 = true;
    auto model = make_model(c);
    Tensor theta = Tensor::empty({model->params().numel()}, DType::f32);
    Tensor buffers = Tensor::empty({model->buffers().numel()}, DType::f32);
    model->init(Stream::cpu(), theta, buffers, 3);
    Tensor bc = buffers.clone(), bg = buffers.to(g.device(), g);
    Tensor x = randn({4, 3, 16, 16}, DType::f32, 5);
    {
      Tape t(g);
      NoGrad off(t);
      Tensor z = t.value(model->forward(t, t.leaf(theta.to(g.device(), g)), bg, t.leaf(x.to(g.device(), g)), false))
                     .to(Device::cpu(), g);
      for (float v : z.to_vector<float>()) ASSERT_EQ(prec::round_bf16(v), v) << "a GPU logit off the bf16 grid";
    }
    compare_backends_scaled(
        {theta, x}, {true, true},
        [&](Tape& t, const std::vector<Var>& v) {
          return model->forward(t, v[0], t.stream().is_cuda() ? bg : bc, v[1], true);
        },
        5e-2);
  }
  g.allow_tf32 = was;
}
