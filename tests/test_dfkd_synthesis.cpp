// The pieces of data-free distillation below the shadow job: the BatchNorm-statistics loss with Fast's momentum
// statistics (against a hand computation and finite differences, f64), the synthesizer (deterministic per
// (seed, epoch), resumable from its state, Fast's meta-generator, adversarial term and first-layer reset), the
// 8-bit memory bank (round trip, missing and malformed batches), and the Fig. 9 distances and plot.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "data/npy.h"
#include "nn/layer_trace.h"
#include "nn/matching_losses.h"
#include "paradigms/audit/audit_summary.h"
#include "paradigms/dfkd/logit_distance.h"
#include "paradigms/dfkd/memory_bank.h"
#include "paradigms/dfkd/synthesizer.h"
#include "plot/write_figure.h"
#include "tests/lira_test_util.h"
#include "tests/test_util.h"

using namespace sp;
using namespace sp::test;
namespace fs = std::filesystem;

namespace {

std::unique_ptr<Model> small_resnet(int64_t image = 8, int64_t width = 4) {
  ModelConfig c;
  c.name = "resnet18";
  c.width = width;
  c.image_size = image;
  return make_model(c);
}

struct Teacher64 {
  std::unique_ptr<Model> m = small_resnet();
  Tensor theta, buffers;
  Teacher64() {
    theta = Tensor::empty({m->params().numel()}, DType::f64);
    buffers = Tensor::empty({m->buffers().numel()}, DType::f64);
    m->init(Stream::cpu(), theta, buffers, 11);
    buffers.copy_(rand_uniform(buffers.shape(), DType::f64, 12, 0.2, 1.5));  // running statistics away from 0 / 1
  }
  // The loss at x with momentum statistics `prev` (nullptr: none); `batch` receives the batch statistics.
  double loss(const Tensor& x, const BnStatistics* prev, double beta, BnStatistics* batch = nullptr, Tensor* grad = nullptr) const {
    Tape t(Stream::cpu());
    Var xv = t.leaf(x, grad != nullptr);
    LayerTrace trace;
    m->forward(t, t.leaf(theta), buffers, xv, false);
    Var l = bn_statistics_loss(t, trace, *m, buffers, prev, beta, batch);
    if (grad) *grad = t.grad(l, {xv})[0];
    return as_doubles(t.value(l))[0];
  }
  // Running statistics of each traced batch-norm layer, in trace order.
  std::vector<std::pair<std::vector<double>, std::vector<double>>> running(const Tensor& x) const {
    Tape t(Stream::cpu());
    LayerTrace trace;
    m->forward(t, t.leaf(theta), buffers, t.leaf(x), false);
    std::vector<std::pair<std::vector<double>, std::vector<double>>> out;
    for (const TracedLayer& l : trace.layers()) {
      if (l.kind != TracedLayer::Kind::batch_norm) continue;
      for (const ParamSpec& p : m->params().specs())
        if (p.offset == l.weight_offset) {
          const std::string n = p.name.substr(0, p.name.size() - 7);
          out.push_back({as_doubles(m->buffers().view(buffers, n + ".running_mean")),
                         as_doubles(m->buffers().view(buffers, n + ".running_var"))});
        }
    }
    return out;
  }
};

double l2(const std::vector<double>& a) {
  double s = 0;
  for (double v : a) s += v * v;
  return std::sqrt(s);
}

}  // namespace

TEST(DfkdSynthesis, MomentumBlendedBnLossMatchesHandComputationAndFiniteDifferences) {
  Teacher64 T;
  Tensor x = randn({3, 3, 8, 8}, DType::f64, 5);
  BnStatistics batch;
  const double plain = T.loss(x, nullptr, 0.9, &batch);
  auto run = T.running(x);
  ASSERT_EQ(batch.mean.size(), run.size());
  ASSERT_EQ(run.size(), 20u) << "ResNet-18: 20 batch-norm layers, the shortcut ones included";
  // Previous statistics: anything of the right shapes.
  BnStatistics prev;
  for (size_t l = 0; l < batch.mean.size(); ++l) {
    prev.mean.push_back(randn(batch.mean[l].shape(), DType::f64, 100 + l));
    prev.var.push_back(rand_uniform(batch.var[l].shape(), DType::f64, 200 + l, 0.1, 2));
  }
  const double beta = 0.9;
  double expected = 0, expected_plain = 0;
  for (size_t l = 0; l < run.size(); ++l) {
    auto m = as_doubles(batch.mean[l]), v = as_doubles(batch.var[l]);
    auto pm = as_doubles(prev.mean[l]), pv = as_doubles(prev.var[l]);
    std::vector<double> dm(m.size()), dv(m.size()), dm0(m.size()), dv0(m.size());
    for (size_t c = 0; c < m.size(); ++c) {
      dm[c] = run[l].first[c] - ((1 - beta) * m[c] + beta * pm[c]);
      dv[c] = run[l].second[c] - ((1 - beta) * v[c] + beta * pv[c]);
      dm0[c] = run[l].first[c] - m[c];
      dv0[c] = run[l].second[c] - v[c];
    }
    expected += l2(dv) + l2(dm);
    expected_plain += l2(dv0) + l2(dm0);
  }
  EXPECT_NEAR(plain, expected_plain, 1e-12 * expected_plain);
  Tensor g;
  const double blended = T.loss(x, &prev, beta, nullptr, &g);
  EXPECT_NEAR(blended, expected, 1e-12 * expected);
  EXPECT_GT(std::abs(blended - plain), 1e-3) << "the blend changes the loss";
  // Blending with this batch's own statistics, or with momentum 0, is the plain loss.
  EXPECT_NEAR(T.loss(x, &batch, beta), plain, 1e-12 * plain);
  EXPECT_NEAR(T.loss(x, &prev, 0.0), plain, 1e-12 * plain);
  // d/dx by central differences along a random direction (the previous statistics are constants).
  Tensor d = randn(x.shape(), DType::f64, 9);
  const double eps = 1e-5;
  auto shifted = [&](double s) {
    auto xv = as_doubles(x), dv = as_doubles(d);
    for (size_t i = 0; i < xv.size(); ++i) xv[i] += s * dv[i];
    return Tensor::from_vector(xv, x.shape());
  };
  const double fd = (T.loss(shifted(eps), &prev, beta) - T.loss(shifted(-eps), &prev, beta)) / (2 * eps);
  double an = 0;
  auto gv = as_doubles(g), dv = as_doubles(d);
  for (size_t i = 0; i < gv.size(); ++i) an += gv[i] * dv[i];
  EXPECT_NEAR(an, fd, 1e-6 * std::abs(fd));
  // Mismatched statistics are refused.
  BnStatistics short_prev = prev;
  short_prev.mean.pop_back();
  short_prev.var.pop_back();
  expect_error_mentioning([&] { T.loss(x, &short_prev, beta); }, "momentum statistics hold 19 layers");
}

TEST(DfkdSynthesis, MomentumStatisticsStartAtTheFirstBatchThenAverage) {
  Stream& s = Stream::cpu();
  BnStatistics avg, b1, b2;
  b1.mean = {Tensor::from_vector<float>({1, 2}, {2})};
  b1.var = {Tensor::from_vector<float>({3, 4}, {2})};
  b2.mean = {Tensor::from_vector<float>({11, 12}, {2})};
  b2.var = {Tensor::from_vector<float>({13, 14}, {2})};
  update_bn_momentum(s, avg, b1, 0.9);
  EXPECT_EQ(avg.mean[0].to_vector<float>(), (std::vector<float>{1, 2}));
  b1.mean[0].fill_(0);  // a copy, not a view of the batch
  EXPECT_EQ(avg.mean[0].to_vector<float>(), (std::vector<float>{1, 2}));
  update_bn_momentum(s, avg, b2, 0.9);
  EXPECT_NEAR(avg.mean[0].to_vector<float>()[0], 0.9 * 1 + 0.1 * 11, 1e-6);
  EXPECT_NEAR(avg.var[0].to_vector<float>()[1], 0.9 * 4 + 0.1 * 14, 1e-6);
}

namespace {

struct SynthSetup {
  std::unique_ptr<Model> teacher = small_resnet(16, 4), student = small_resnet(16, 4);
  Tensor tt, tb, st, sb;
  dfkd::DfkdConfig c;
  SynthSetup(dfkd::Method method) {
    tt = Tensor::empty({teacher->params().numel()}, DType::f32);
    tb = Tensor::empty({teacher->buffers().numel()}, DType::f32);
    teacher->init(Stream::cpu(), tt, tb, 3);
    tb.copy_(rand_uniform(tb.shape(), DType::f32, 4, 0.2, 1.2));
    st = Tensor::empty({student->params().numel()}, DType::f32);
    sb = Tensor::empty({student->buffers().numel()}, DType::f32);
    student->init(Stream::cpu(), st, sb, 5);
    c.method = method;
    c.latent = 8;
    c.width = 4;
    c.warmup = 1;
    c.synthesis.batch = 6;
    c.synthesis.g_steps = 2;
    if (method == dfkd::Method::fast) {
      c.synthesis.meta = true;
      c.synthesis.bn_weight = 10;
      c.synthesis.oh_weight = 0.5;
      c.synthesis.adv_weight = 1.33;
      c.synthesis.reset_epoch = 1;  // upstream's count: epoch index warmup + reset - 1 = 1
    }
  }
  dfkd::Synthesizer make(uint64_t seed = 7) const {
    return dfkd::Synthesizer(c, {teacher.get(), tt, tb}, 10, Shape{3, 16, 16}, data::Normalization::cifar10(),
                             Stream::cpu(), seed);
  }
  dfkd::FrozenModel frozen_student() const { return {student.get(), st, sb}; }
};

std::vector<uint8_t> bytes(const Tensor& t) { return t.to_vector<uint8_t>(); }

double stddev(const Tensor& t) {
  auto v = as_doubles(t);
  double m = 0, s = 0;
  for (double x : v) m += x;
  m /= double(v.size());
  for (double x : v) s += (x - m) * (x - m);
  return std::sqrt(s / double(v.size()));
}

}  // namespace

TEST(DfkdSynthesis, BnMethodIsDeterministicResumableAndLowersTheLoss) {
  SynthSetup S(dfkd::Method::bn);
  dfkd::Synthesizer a = S.make();
  std::vector<dfkd::SynthesisResult> ra;
  for (int e = 0; e < 6; ++e) ra.push_back(a.synthesize(e, S.frozen_student()));
  for (const auto& r : ra) {
    EXPECT_EQ(r.images.dtype(), DType::u8);
    EXPECT_EQ(r.images.shape(), (Shape{6, 3, 16, 16}));
    EXPECT_TRUE(std::isfinite(r.best_loss));
    EXPECT_DOUBLE_EQ(r.best_loss, r.bn_loss) << "method bn: the loss is the BN term alone (weight 1)";
  }
  EXPECT_NE(bytes(ra[0].images), bytes(ra[1].images)) << "fresh latents each epoch";
  EXPECT_LT(ra[5].bn_loss, ra[0].bn_loss) << "the persistent generator learns";
  // The same seed gives the same batches; another seed others.
  dfkd::Synthesizer b = S.make();
  for (int e = 0; e < 3; ++e) EXPECT_EQ(bytes(b.synthesize(e, S.frozen_student()).images), bytes(ra[size_t(e)].images)) << e;
  EXPECT_NE(bytes(S.make(8).synthesize(0, S.frozen_student()).images), bytes(ra[0].images));
  // Resumed from b's state after 3 epochs: the same epochs 3-5.
  dfkd::Synthesizer c = S.make();
  c.load_state(b.state("x."), "x.");
  for (int e = 3; e < 6; ++e) EXPECT_EQ(bytes(c.synthesize(e, S.frozen_student()).images), bytes(ra[size_t(e)].images)) << e;
  expect_error_mentioning([&] { c.load_state({}, "y."); }, "dfkd checkpoint: missing y.");
}

TEST(DfkdSynthesis, FastMethodMetaLearnsAttacksTheStudentAndResetsItsFirstLayer) {
  SynthSetup S(dfkd::Method::fast);
  dfkd::Synthesizer a = S.make();
  const Tensor w0 = a.generator().params().view(a.generator_theta(), "l1.0.weight").clone();
  dfkd::SynthesisResult r0 = a.synthesize(0, {});  // warm-up: no student needed
  EXPECT_GT(r0.best_loss, 10 * r0.bn_loss - 1e-9) << "the one-hot term adds to the BN term";
  const Tensor w1 = a.generator().params().view(a.generator_theta(), "l1.0.weight").clone();
  EXPECT_NE(as_doubles(w0), as_doubles(w1)) << "one meta step per call";
  EXPECT_GT(stddev(w1), 0.15) << "PyTorch's default init of a Linear(8, ...): U(-1/sqrt(8), 1/sqrt(8))";
  expect_error_mentioning([&] { a.synthesize(1, {}); }, "the adversarial term needs the student");
  dfkd::Synthesizer b = S.make();
  b.synthesize(0, {});
  dfkd::SynthesisResult r1 = b.synthesize(1, S.frozen_student());
  EXPECT_TRUE(std::isfinite(r1.best_loss));
  const Tensor w2 = b.generator().params().view(b.generator_theta(), "l1.0.weight");
  EXPECT_LT(stddev(w2), 0.05) << "re-initialised with N(0, 0.02) before this call's meta step";
  // Resumable: state after epoch 1, then epoch 2 matches an uninterrupted run.
  dfkd::Synthesizer c = S.make();
  c.load_state(b.state(""), "");
  dfkd::SynthesisResult rb = b.synthesize(2, S.frozen_student()), rc = c.synthesize(2, S.frozen_student());
  EXPECT_EQ(bytes(rb.images), bytes(rc.images));
  EXPECT_DOUBLE_EQ(rb.best_loss, rc.best_loss);
}

TEST(DfkdSynthesis, MemoryBankRoundTripsAndNamesBadBatches) {
  TempDir t;
  Stream& s = Stream::cpu();
  const std::string dir = t / "bank";
  auto batch = [](int seed, int64_t n) {
    std::vector<uint8_t> v(size_t(n * 3 * 4 * 4));
    for (size_t i = 0; i < v.size(); ++i) v[i] = uint8_t((i * 7 + size_t(seed) * 31) % 256);
    return Tensor::from_vector(v, {n, 3, 4, 4});
  };
  dfkd::MemoryBank a(dir, 10, Shape{3, 4, 4}, s);
  a.put(0, batch(1, 3), {0, 1, 2});
  a.put(1, batch(2, 3), {3, 4, 5});
  EXPECT_EQ(a.size(), 6);
  EXPECT_EQ(a.batches(), 2);
  EXPECT_EQ(a.data().host_labels, (std::vector<int64_t>{0, 1, 2, 3, 4, 5}));
  expect_error_mentioning([&] { a.put(5, batch(3, 3), {0, 0, 0}); }, "batch 5 given after 2 batches");
  expect_error_mentioning([&] { a.put(2, batch(3, 5), {0, 0, 0, 0, 0}); }, "exceed its capacity 10");
  EXPECT_TRUE(fs::exists(dir + "/epoch_0000.npy"));
  dfkd::MemoryBank b(dir, 10, Shape{3, 4, 4}, s);
  int calls = 0;
  b.load(2, [&](const Tensor& images) {
    ++calls;
    return std::vector<int64_t>(size_t(images.size(0)), 9);
  });
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(b.host().to_vector<uint8_t>(), a.host().to_vector<uint8_t>());
  dfkd::MemoryBank c(dir, 10, Shape{3, 4, 4}, s);
  expect_error_mentioning([&] { c.load(3, [](const Tensor&) { return std::vector<int64_t>(3, 0); }); },
                          "epoch_0002.npy: missing");
  npy::write(dir + "/epoch_0001.npy", std::vector<int64_t>{3, 3, 4, 5}, std::vector<uint8_t>(180, 1));
  dfkd::MemoryBank d(dir, 10, Shape{3, 4, 4}, s);
  expect_error_mentioning([&] { d.load(2, [](const Tensor&) { return std::vector<int64_t>(3, 0); }); },
                          "epoch_0001.npy: expected u8 [B, 3, 4, 4]");
}

TEST(DfkdSynthesis, NearestDistancesAndTheirPlot) {
  // Queries (0, 0) and (3, 4); bank (0, 1) and (3, 0).
  std::vector<double> d = dfkd::nearest_distances({0, 0, 3, 4}, {0, 1, 3, 0}, 2);
  ASSERT_EQ(d.size(), 2u);
  EXPECT_DOUBLE_EQ(d[0], 1.0);
  EXPECT_DOUBLE_EQ(d[1], 4.0);
  expect_error_mentioning([] { dfkd::nearest_distances({0, 0}, {}, 2); }, "nearest_distances");
  EXPECT_DOUBLE_EQ(audit::median({3, 1, 2}), 2.0);
  EXPECT_DOUBLE_EQ(audit::median({4, 1, 2, 3}), 2.5);
  EXPECT_TRUE(std::isnan(audit::median({})));
  TempDir t;
  // One step curve per non-empty group, from 0 up by 1/n at each value to 1 at the axis' end.
  const plot::Figure f = dfkd::distance_figure({{"IN", {0.5, 1, 2}}, {"OUT", {1, 3}}, {"empty", {}}}, "test", "d.png");
  ASSERT_EQ(f.lines.size(), 2u);
  EXPECT_EQ(f.lines[0].label, "IN (n=3)");
  EXPECT_EQ(f.lines[0].y.front(), 0.0);
  EXPECT_EQ(f.lines[0].y.back(), 1.0);
  EXPECT_GE(f.x.max, 3.0);
  EXPECT_EQ(f.lines[1].x.back(), f.x.max);
  const std::vector<std::string> written =
      dfkd::write_distance_plot(t / "d", {{"IN", {0.5, 1, 2}}, {"OUT", {1, 3}}, {"empty", {}}}, "test");
  if (plot::plots_available()) {
    EXPECT_EQ(written, (std::vector<std::string>{t / "d.png", t / "d.svg"}));
    EXPECT_GT(fs::file_size(t / "d.png"), 1000u);
    EXPECT_NE(sp::test::read_text(t / "d.svg").find("OUT (n=2)"), std::string::npos);
  }
  expect_error_mentioning([&] { dfkd::write_distance_plot(t / "e", {{"a", {}}}, "x"); }, "no finite distance");
  EXPECT_FALSE(fs::exists(t / "e.png"));
}
