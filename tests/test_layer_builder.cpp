// LayerBuilder (nn/models/layer_builder.h) used outside the classifiers: the DCGAN generator of Fast DFKD
// (nn/models/dcgan_generator.h) has the reference's parameter and buffer names, shapes and count, PyTorch's
// initialisation (BN weight 1 / bias 0, running statistics 0 / 1, linear and conv within 1/sqrt(fan_in)),
// maps latents [N, nz] to images [N, C, size, size] in (0, 1), trains with a gradient for every parameter,
// and refuses bad sizes and inputs naming itself (the DDPM UNet has its own tests/test_ddpm_unet.cpp). The layouts a builder makes are what the classifiers use
// (tests/test_models.cpp covers those).
#include <cmath>

#include "nn/models/dcgan_generator.h"
#include "nn/models/layer_builder.h"
#include "nn/ops_elementwise.h"
#include "nn/ops_reduce.h"
#include "tests/test_util.h"

using namespace sp;
using namespace sp::models;
using namespace sp::test;

namespace {

GeneratorConfig small_generator() {
  GeneratorConfig g;
  g.latent = 6;
  g.width = 4;
  g.image_size = 8;
  g.channels = 3;
  return g;
}

}  // namespace

TEST(LayerBuilder, DeclaresNamedParametersInOneFlatBuffer) {
  LayerBuilder b("net");
  ConvLayer c = b.add_conv("body.0", 3, 4, 3, 1, 1, true);
  NormLayer n = b.add_batch_norm("body.1", 4);
  LinearLayer l = b.add_linear("head", 4, 2);
  EXPECT_EQ(c.weight.offset, 0);
  EXPECT_EQ(c.bias.offset, 4 * 3 * 9);
  EXPECT_EQ(n.weight.offset, c.bias.offset + 4);
  EXPECT_EQ(l.bias.offset + 2, b.params().numel());
  EXPECT_EQ(b.params().numel(), 4 * 27 + 4 + 4 + 4 + 8 + 2);
  EXPECT_EQ(b.buffers().numel(), 8);
  EXPECT_EQ(n.running_var.offset, 4);
  EXPECT_TRUE(b.params().find("body.0.weight")->decay);
  EXPECT_FALSE(b.params().find("body.1.bias")->decay);
  try {
    b.add_group_norm("gn", 6, 4);
    FAIL() << "4 groups do not divide 6 channels";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("net: group norm 'gn'"), std::string::npos) << e.what();
  }
}

TEST(DcganGenerator, HasTheReferenceNamesShapesAndCount) {
  const GeneratorConfig g = small_generator();
  auto gen = make_dcgan_generator(g);
  EXPECT_EQ(gen->name(), "dcgan_generator");
  const std::vector<std::pair<std::string, Shape>> want = {
      {"l1.0.weight", {8 * 2 * 2, 6}}, {"l1.0.bias", {32}},
      {"conv_blocks.0.weight", {8}},   {"conv_blocks.0.bias", {8}},
      {"conv_blocks.2.weight", {8, 8, 3, 3}},
      {"conv_blocks.3.weight", {8}},   {"conv_blocks.3.bias", {8}},
      {"conv_blocks.6.weight", {4, 8, 3, 3}},
      {"conv_blocks.7.weight", {4}},   {"conv_blocks.7.bias", {4}},
      {"conv_blocks.9.weight", {3, 4, 3, 3}}, {"conv_blocks.9.bias", {3}}};
  ASSERT_EQ(gen->params().size(), int(want.size()));
  int64_t count = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(gen->params().specs()[i].name, want[i].first);
    EXPECT_EQ(gen->params().specs()[i].shape, want[i].second) << want[i].first;
    count += want[i].second.numel();
  }
  EXPECT_EQ(gen->params().numel(), count);
  std::vector<std::string> buffers;
  for (const ParamSpec& p : gen->buffers().specs()) buffers.push_back(p.name);
  EXPECT_EQ(buffers, (std::vector<std::string>{"conv_blocks.0.running_mean", "conv_blocks.0.running_var",
                                               "conv_blocks.3.running_mean", "conv_blocks.3.running_var",
                                               "conv_blocks.7.running_mean", "conv_blocks.7.running_var"}));
  EXPECT_TRUE(gen->has_batch_norm());
}

TEST(DcganGenerator, InitialisesAsPyTorchAndDeterministically) {
  auto gen = make_dcgan_generator(small_generator());
  Tensor theta = Tensor::empty({gen->params().numel()}, DType::f64), again = theta.clone();
  Tensor buffers = Tensor::empty({gen->buffers().numel()}, DType::f64);
  gen->init(Stream::cpu(), theta, buffers, 11);
  gen->init(Stream::cpu(), again, buffers, 11);
  EXPECT_EQ(theta.to_vector<double>(), again.to_vector<double>());
  for (const ParamSpec& p : gen->params().specs()) {
    auto v = gen->params().view(theta, p.name).contiguous().to_vector<double>();
    const bool norm = p.shape.size() == 1 && !p.name.starts_with("l1") && p.name != "conv_blocks.9.bias";
    if (norm) {
      for (double x : v) ASSERT_EQ(x, p.name.ends_with(".weight") ? 1.0 : 0.0) << p.name;
      continue;
    }
    const ParamSpec& w = gen->params().at(p.name.substr(0, p.name.rfind('.')) + ".weight");
    const double bound = 1.0 / std::sqrt(double(w.shape.numel() / w.shape[0]));
    double spread = 0;
    for (double x : v) {
      ASSERT_LE(std::abs(x), bound) << p.name;
      spread = std::max(spread, std::abs(x));
    }
    EXPECT_GT(spread, 0.3 * bound) << p.name << " is not spread over U(-b, b)";
  }
  for (const ParamSpec& p : gen->buffers().specs())
    for (int64_t i = 0; i < p.numel(); ++i)
      ASSERT_EQ(buffers.to_vector<double>()[size_t(p.offset + i)], p.name.ends_with("running_var") ? 1.0 : 0.0);
}

TEST(DcganGenerator, MapsLatentsToImagesWithAGradientForEveryParameter) {
  const GeneratorConfig g = small_generator();
  auto gen = make_dcgan_generator(g);
  Tensor theta = Tensor::empty({gen->params().numel()}, DType::f64);
  Tensor buffers = Tensor::empty({gen->buffers().numel()}, DType::f64);
  gen->init(Stream::cpu(), theta, buffers, 3);
  Tape t(Stream::cpu());
  Var th = t.leaf(theta, true);
  Var img = gen->forward(t, th, buffers, t.leaf(randn({5, g.latent}, DType::f64, 4)), true);
  ASSERT_EQ(t.value(img).shape(), (Shape{5, 3, 8, 8}));
  for (double v : t.value(img).to_vector<double>()) ASSERT_TRUE(v > 0 && v < 1) << v;
  Tensor grad = t.grad(ag::mean(t, img), {th})[0];
  ASSERT_EQ(grad.shape(), theta.shape());
  auto gv = grad.to_vector<double>();
  for (const ParamSpec& p : gen->params().specs()) {
    double norm = 0;
    for (int64_t i = 0; i < p.numel(); ++i) norm += std::abs(gv[size_t(p.offset + i)]);
    // Batch norm's bias before the upsampling shifts every value of a channel equally; the next norm removes
    // that shift, so that bias alone may get (almost) no gradient.
    if (p.name != "conv_blocks.0.bias" && p.name != "l1.0.bias") EXPECT_GT(norm, 0) << p.name;
  }
  EXPECT_NE(buffers.to_vector<double>()[0], 0.0) << "training mode updates the running mean";
}

TEST(DcganGenerator, RefusesBadSizesAndInputs) {
  GeneratorConfig g = small_generator();
  g.image_size = 10;
  try {
    make_dcgan_generator(g);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("dcgan_generator: image_size 10"), std::string::npos) << e.what();
  }
  auto gen = make_dcgan_generator(small_generator());
  Tensor theta = Tensor::zeros({gen->params().numel()}, DType::f32);
  Tensor buffers = Tensor::zeros({gen->buffers().numel()}, DType::f32);
  Tape t(Stream::cpu());
  EXPECT_THROW(gen->forward(t, t.leaf(theta), buffers, t.leaf(Tensor::zeros({2, 5}, DType::f32)), false), Error);
  EXPECT_THROW(gen->forward(t, t.leaf(theta.narrow(0, 1, 4)), buffers, t.leaf(Tensor::zeros({2, 6}, DType::f32)), false),
               Error);
}

