// The DDPM UNet (nn/models/ddpm_unet.h): the ddim port's parameter names and shapes, DDPM's 35.7 M parameters for
// the CIFAR-10 configuration and the reference table's 6.47 M for the small one, TensorFlow's initialisation (zero
// output layers: a fresh UNet predicts 0), a finite-difference check of the gradient of every parameter and of the
// input at tiny width in float64, conditioning on the timestep and the label (null class included), reproducible
// dropout, and configuration / input errors that name their setting.
#include <cmath>

#include <gtest/gtest.h>

#include "kernels/error.h"
#include "nn/models/ddpm_unet.h"
#include "nn/ops_elementwise.h"
#include "nn/ops_reduce.h"
#include "test_util.h"

namespace sp {
namespace {

using models::DenoiseArgs;
using models::UNetConfig;
using test::randn;

UNetConfig tiny() {
  UNetConfig c;
  c.ch = 8;
  c.ch_mult = {1, 2};
  c.num_res_blocks = 1;
  c.attn_resolutions = {4};
  c.dropout = 0.0;
  c.norm_groups = 4;
  c.image_size = 8;
  c.channels = 3;
  c.num_classes = 3;
  return c;
}

double dot(const Tensor& a, const Tensor& b) {
  std::vector<double> x = a.to_vector<double>(), y = b.to_vector<double>();
  double s = 0;
  for (size_t i = 0; i < x.size(); ++i) s += x[i] * y[i];
  return s;
}

Tensor axpy(const Tensor& x, const Tensor& v, double e) {
  std::vector<double> a = x.to_vector<double>(), b = v.to_vector<double>();
  for (size_t i = 0; i < a.size(); ++i) a[i] += e * b[i];
  return Tensor::from_vector(a, x.shape());
}

// A UNet's theta initialised, then perturbed so the zero-initialised layers carry signal too.
Tensor perturbed_theta(const models::Denoiser& u, uint64_t seed) {
  Tensor th = Tensor::empty({u.params().numel()}, DType::f64);
  u.init(Stream::cpu(), th, Tensor(), seed);
  return axpy(th, randn({u.params().numel()}, DType::f64, seed + 1), 0.05);
}

TEST(DdpmUNet, NamesShapesAndParameterCounts) {
  UNetConfig d = UNetConfig::ddpm_cifar10();
  d.num_classes = 0;
  auto ddpm = models::make_ddpm_unet(d);
  EXPECT_EQ(ddpm->name(), "ddpm_unet");
  EXPECT_FALSE(ddpm->has_batch_norm());
  // DDPM's published CIFAR-10 model: 35.7 M parameters (shared/reference/round2-methods.md §7.1).
  EXPECT_NEAR(double(ddpm->params().numel()), 35.75e6, 0.01e6) << ddpm->params().numel();
  const ParamLayout& P = ddpm->params();
  EXPECT_EQ(P.at("temb.dense.0.weight").shape, (Shape{512, 128}));
  EXPECT_EQ(P.at("temb.dense.1.weight").shape, (Shape{512, 512}));
  EXPECT_EQ(P.at("conv_in.weight").shape, (Shape{128, 3, 3, 3}));
  EXPECT_EQ(P.at("down.0.block.1.conv2.weight").shape, (Shape{128, 128, 3, 3}));
  EXPECT_EQ(P.at("down.1.block.0.nin_shortcut.weight").shape, (Shape{256, 128, 1, 1}));
  EXPECT_EQ(P.at("down.1.attn.0.q.weight").shape, (Shape{256, 256, 1, 1}));  // 16x16: attention
  EXPECT_FALSE(P.contains("down.0.attn.0.q.weight"));                          // 32x32: none
  EXPECT_EQ(P.at("down.2.downsample.conv.weight").shape, (Shape{256, 256, 3, 3}));
  EXPECT_FALSE(P.contains("down.3.downsample.conv.weight"));
  EXPECT_EQ(P.at("mid.attn_1.proj_out.weight").shape, (Shape{256, 256, 1, 1}));
  EXPECT_EQ(P.at("up.0.block.2.conv1.weight").shape, (Shape{128, 256, 3, 3}));  // h 128 + skip 128
  EXPECT_EQ(P.at("up.3.block.0.conv1.weight").shape, (Shape{256, 512, 3, 3}));
  EXPECT_EQ(P.at("up.1.upsample.conv.weight").shape, (Shape{256, 256, 3, 3}));
  EXPECT_FALSE(P.contains("up.0.upsample.conv.weight"));
  EXPECT_EQ(P.at("conv_out.weight").shape, (Shape{3, 128, 3, 3}));
  EXPECT_FALSE(P.contains("label_emb.weight"));

  UNetConfig small;  // the default: ch 64, (1, 2, 2), 2 blocks, attention at 16: the reference's 6.47 M
  small.num_classes = 0;
  EXPECT_NEAR(double(models::make_ddpm_unet(small)->params().numel()), 6.47e6, 0.01e6);
  small.num_classes = 10;
  auto cond = models::make_ddpm_unet(small);
  EXPECT_EQ(cond->params().at("label_emb.weight").shape, (Shape{11, 256}));  // 10 classes + the null class
  EXPECT_EQ(cond->null_label(), 10);
}

TEST(DdpmUNet, FreshUNetPredictsZeroAndInitialisesAsTensorFlow) {
  auto u = models::make_ddpm_unet(tiny());
  Tensor th = Tensor::empty({u->params().numel()}, DType::f64);
  u->init(Stream::cpu(), th, Tensor(), 3);
  const std::vector<double> v = th.to_vector<double>();
  for (const ParamSpec& p : u->params().specs()) {
    double mx = 0;
    for (int64_t i = 0; i < p.numel(); ++i) mx = std::max(mx, std::abs(v[size_t(p.offset + i)]));
    const bool zero = p.name.find(".conv2.") != std::string::npos || p.name.find("proj_out") != std::string::npos ||
                      p.name.rfind("conv_out", 0) == 0 || p.name.find(".bias") != std::string::npos;
    if (zero) EXPECT_EQ(mx, 0.0) << p.name;
    else if (p.name.find("norm") == std::string::npos) EXPECT_GT(mx, 0.0) << p.name;
  }
  // variance_scaling(1, fan_avg, uniform): |w| <= sqrt(3 / ((fan_in + fan_out) / 2)).
  const ParamSpec& w = u->params().at("down.0.block.0.conv1.weight");
  const double bound = std::sqrt(3.0 / ((8.0 * 9 + 8.0 * 9) / 2));
  for (int64_t i = 0; i < w.numel(); ++i) EXPECT_LE(std::abs(v[size_t(w.offset + i)]), bound);
  Tape t(Stream::cpu());
  Tensor eps = t.value(u->denoise(t, t.leaf(th), t.leaf(randn({2, 3, 8, 8}, DType::f64, 4)), {{5, 700}, {0, 3}}));
  for (double e : eps.to_vector<double>()) EXPECT_EQ(e, 0.0);
}

TEST(DdpmUNet, GradientMatchesFiniteDifferences) {
  auto u = models::make_ddpm_unet(tiny());
  const Tensor theta = perturbed_theta(*u, 7);
  const Tensor x = randn({2, 3, 8, 8}, DType::f64, 8);
  const Tensor r = randn({2, 3, 8, 8}, DType::f64, 9);  // L = sum(eps * r)
  const DenoiseArgs a{{12, 640}, {1, 3}, false, 0, 0};
  auto loss = [&](const Tensor& th, const Tensor& xx, Tensor* gth, Tensor* gx) {
    Tape t(Stream::cpu());
    Var vt = t.leaf(th, true), vx = t.leaf(xx, true);
    Var l = ag::sum(t, ag::mul(t, u->denoise(t, vt, vx, a), t.leaf(r)));
    const double value = t.value(l).to_vector<double>()[0];
    if (gth) {
      std::vector<Tensor> g = t.grad(l, {vt, vx});
      *gth = g[0];
      *gx = g[1];
    }
    return value;
  };
  Tensor gth, gx;
  loss(theta, x, &gth, &gx);
  const double e = 1e-5;
  for (uint64_t trial = 0; trial < 3; ++trial) {
    const Tensor v = randn(theta.shape(), DType::f64, 100 + trial);
    const double fd = (loss(axpy(theta, v, e), x, nullptr, nullptr) - loss(axpy(theta, v, -e), x, nullptr, nullptr)) / (2 * e);
    EXPECT_NEAR(dot(gth, v), fd, 1e-6 * std::max(1.0, std::abs(fd))) << "theta direction " << trial;
    const Tensor w = randn(x.shape(), DType::f64, 200 + trial);
    const double fdx = (loss(theta, axpy(x, w, e), nullptr, nullptr) - loss(theta, axpy(x, w, -e), nullptr, nullptr)) / (2 * e);
    EXPECT_NEAR(dot(gx, w), fdx, 1e-6 * std::max(1.0, std::abs(fdx))) << "input direction " << trial;
  }
  // Every parameter gets a gradient.
  const std::vector<double> g = gth.to_vector<double>();
  for (const ParamSpec& p : u->params().specs()) {
    double norm = 0;
    for (int64_t i = 0; i < p.numel(); ++i) norm += std::abs(g[size_t(p.offset + i)]);
    if (p.name == "label_emb.weight") continue;  // only the rows of the labels used (checked below)
    EXPECT_GT(norm, 0) << p.name << " gets no gradient";
  }
  const ParamSpec& emb = u->params().at("label_emb.weight");  // [4, 32]: rows 1 and 3 used
  for (int64_t row = 0; row < 4; ++row) {
    double norm = 0;
    for (int64_t j = 0; j < 32; ++j) norm += std::abs(g[size_t(emb.offset + row * 32 + j)]);
    if (row == 1 || row == 3) EXPECT_GT(norm, 0) << row;
    else EXPECT_EQ(norm, 0) << row;
  }
}

TEST(DdpmUNet, ConditionsOnTimestepAndLabelAndDropsOutReproducibly) {
  UNetConfig c = tiny();
  c.dropout = 0.3;
  auto u = models::make_ddpm_unet(c);
  const Tensor theta = perturbed_theta(*u, 11);
  const Tensor x = randn({2, 3, 8, 8}, DType::f64, 12);
  auto run = [&](const DenoiseArgs& a) {
    Tape t(Stream::cpu());
    return t.value(u->denoise(t, t.leaf(theta), t.leaf(x), a)).to_vector<double>();
  };
  auto row = [](const std::vector<double>& v, int i) {
    return std::vector<double>(v.begin() + i * 192, v.begin() + (i + 1) * 192);
  };
  const auto base = run({{10, 500}, {0, 2}, false, 0, 0});
  const auto other_t = run({{10, 900}, {0, 2}, false, 0, 0});
  EXPECT_EQ(row(base, 0), row(other_t, 0)) << "rows are independent";
  EXPECT_NE(row(base, 1), row(other_t, 1)) << "the timestep conditions the prediction";
  const auto null_label = run({{10, 500}, {0, 3}, false, 0, 0});
  EXPECT_NE(row(base, 1), row(null_label, 1)) << "the label conditions the prediction";
  // Dropout: on in training only, the same masks for the same (key, stream), others for another stream.
  const auto d1 = run({{10, 500}, {0, 2}, true, 42, 1});
  const auto d2 = run({{10, 500}, {0, 2}, true, 42, 1});
  const auto d3 = run({{10, 500}, {0, 2}, true, 42, 2});
  EXPECT_EQ(d1, d2);
  EXPECT_NE(d1, d3);
  EXPECT_NE(d1, base);
}

TEST(DdpmUNet, RefusesBadConfigurationsAndInputsNamingThem) {
  auto expect_error = [](const UNetConfig& c, const std::string& what) {
    try {
      (void)models::make_ddpm_unet(c);
      ADD_FAILURE() << "no error for " << what;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    }
  };
  UNetConfig c = tiny();
  c.norm_groups = 3;
  expect_error(c, "unet.norm_groups");
  c = tiny();
  c.attn_resolutions = {16};
  expect_error(c, "unet.attn_resolutions");
  c = tiny();
  c.ch_mult = {1, 2, 2, 2};  // 8 / 2^3 = 1: fine; 6 is not divisible by 8
  c.image_size = 6;
  c.attn_resolutions = {};
  expect_error(c, "image size");
  c = tiny();
  c.dropout = 1.0;
  expect_error(c, "unet.dropout");
  c = tiny();
  c.ch = 5;
  c.norm_groups = 1;
  expect_error(c, "unet.ch");  // odd: the sinusoid needs sin and cos halves

  auto u = models::make_ddpm_unet(tiny());
  const Tensor theta = perturbed_theta(*u, 1);
  Tape t(Stream::cpu());
  const Tensor x = randn({2, 3, 8, 8}, DType::f64, 2);
  EXPECT_THROW(u->denoise(t, t.leaf(theta), t.leaf(x), {{1}, {0, 1}}), Error);           // one timestep
  EXPECT_THROW(u->denoise(t, t.leaf(theta), t.leaf(x), {{1, 2}, {0, 4}}), Error);        // label 4 > null 3
  EXPECT_THROW(u->denoise(t, t.leaf(theta), t.leaf(x), {{1, 2}, {0}}), Error);           // one label
  EXPECT_THROW(u->denoise(t, t.leaf(theta), t.leaf(x), {{1, NAN}, {0, 1}}), Error);      // NaN timestep
  EXPECT_THROW(u->denoise(t, t.leaf(theta), t.leaf(randn({2, 3, 6, 6}, DType::f64, 3)), {{1, 2}, {0, 1}}), Error);
  EXPECT_THROW(u->denoise(t, t.leaf(theta.narrow(0, 1, 9)), t.leaf(x), {{1, 2}, {0, 1}}), Error);
}

}  // namespace
}  // namespace sp
