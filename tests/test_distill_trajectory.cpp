// Trajectory matching's parts on tiny inputs (8 x 8 images, a width-4 ConvNet-3): expert trajectories
// (experts.h: snapshots, determinism, resume expert by expert, GSAM, every refusal: another shadow, another
// ZCA, other settings, damaged bytes, a truncated file), the MTT/DATM distiller (trajectory_distiller.h:
// the start-epoch window, deterministic iterations, resume through its state, the DATM gate, its two
// meta-gradient modes agree and a step down the gradient lowers the loss), DATM's initialisation
// (trajectory_setup.h: samples_predicted_correctly keeps exactly what an expert classifies as labelled,
// the soft labels are the masked mean of the experts' logits) and the canary view (canary_view.h).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "kernels/counter_rng.h"
#include "nn/safetensors.h"
#include "paradigms/distill/canary_view.h"
#include "paradigms/distill/experts.h"
#include "paradigms/distill/trajectory_distiller.h"
#include "paradigms/distill/trajectory_setup.h"
#include "tests/lira_test_util.h"
#include "tests/test_util.h"

using namespace sp;
using namespace sp::distill;
using sp::test::TempDir;
namespace fs = std::filesystem;

namespace {

constexpr int64_t kClasses = 10, kPerClass = 6, kN = kClasses * kPerClass;

DistillConfig tiny(Method m) {
  DistillConfig c;
  c.method = m;
  c.ipc = 2;
  c.iterations = 4;
  c.net.name = "convnet3";
  c.net.width = 4;
  c.net.image_size = 8;
  c.syn_steps = 3;
  c.expert_epochs = 1;
  c.min_start_epoch = 0;
  c.max_start_epoch = 2;
  c.lr_img = 10;
  c.lr_lr = 1e-5;
  c.batch_syn = 7;
  c.dsa = true;
  c.strategy = dsa::parse_strategy(c.dsa_strategy);
  c.experts.count = 2;
  c.experts.epochs = 3;
  c.experts.batch = 16;
  c.experts.lr = 0.05;
  if (m == Method::datm) {
    c.soft_labels = true;
    c.lr_y = 2;
    c.threshold = 1.0;
    c.experts.gsam = true;
  }
  return c;
}

// Class-dependent images: class c brightens one (channel, quadrant) pair of its own, plus noise, so the
// experts learn it in a few epochs.
struct Data {
  Tensor x, y;
  std::vector<int64_t> labels;
  Data() {
    std::vector<float> px(static_cast<size_t>(kN * 3 * 64));
    for (int64_t i = 0; i < kN; ++i) {
      const int64_t c = i % kClasses;
      labels.push_back(c);
      crng::Stream32 r(5, uint64_t(i));
      for (int64_t p = 0; p < 3 * 64; ++p) {
        const int64_t ch = p / 64, yy = (p % 64) / 8, xx = p % 8, quadrant = (yy / 4) * 2 + xx / 4;
        px[size_t(i * 192 + p)] = float(0.5 * r.uniform_d() + (ch == c % 3 && quadrant == c / 3 ? 1.5 : 0.0));
      }
    }
    x = Tensor::from_vector(px, {kN, 3, 8, 8});
    y = Tensor::from_vector(labels, {kN});
  }
};

ExpertContext context(const DistillConfig& c, const std::string& dir, int shadow = 0) {
  ExpertContext ctx;
  ctx.cfg = &c;
  ctx.shadow_dir = dir;
  ctx.shadow = shadow;
  ctx.zca_digest = "none";
  ctx.private_digest = "abc";
  ctx.key = 42;
  ctx.params = make_model(c.net)->params().numel();
  return ctx;
}

std::vector<Tensor> trained(const DistillConfig& c, const std::string& dir) {
  Data d;
  ExpertContext ctx = context(c, dir);
  train_experts(ctx, d.x, d.y, Stream::cpu(), [](const std::string&) {}, 1e30);
  return load_experts(ctx);
}

// The snapshots of an expert file.
Tensor snapshots(const std::string& path) { return load_safetensors(path).at("trajectory"); }

std::vector<uint8_t> bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

void write_bytes(const std::string& path, const std::vector<uint8_t>& b) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
}

// x + a * g as a new f32 tensor.
Tensor axpy(const Tensor& x, const Tensor& g, double a) {
  auto u = test::as_doubles(x), v = test::as_doubles(g);
  for (size_t i = 0; i < u.size(); ++i) u[i] += a * v[i];
  return Tensor::from_vector(u, x.shape()).to(DType::f32);
}

Tensor initial(const DistillConfig& c, uint64_t seed) { return test::randn({c.ipc * kClasses, 3, 8, 8}, DType::f32, seed); }

}  // namespace

TEST(DistillExperts, SnapshotsEveryEpochDeterministicAndResumable) {
  for (Method m : {Method::mtt, Method::datm}) {
    SCOPED_TRACE(method_name(m));
    DistillConfig c = tiny(m);
    TempDir a, b;
    std::vector<Tensor> e = trained(c, a.path());
    ASSERT_EQ(e.size(), 2u);
    const int64_t P = make_model(c.net)->params().numel();
    EXPECT_EQ(e[0].shape(), Shape({4, P}));
    EXPECT_EQ(e[0].dtype(), DType::f32);
    // The first snapshot is the initialisation; every epoch moves the parameters; the experts differ.
    for (int64_t k = 0; k + 1 < 4; ++k)
      EXPECT_FALSE(test::all_close(e[0].narrow(0, k, 1), e[0].narrow(0, k + 1, 1), 0, 0)) << "epoch " << k;
    EXPECT_FALSE(test::all_close(e[0], e[1], 0, 0));
    // Same key, same snapshots; a removed expert is retrained to the same snapshots, the others are kept.
    trained(c, b.path());
    EXPECT_TRUE(test::all_close(snapshots(expert_path(a.path(), 1)), snapshots(expert_path(b.path(), 1)), 0, 0));
    const auto kept = fs::last_write_time(expert_path(b.path(), 0));
    fs::remove(expert_path(b.path(), 1));
    trained(c, b.path());
    EXPECT_TRUE(test::all_close(snapshots(expert_path(a.path(), 1)), snapshots(expert_path(b.path(), 1)), 0, 0));
    EXPECT_EQ(fs::last_write_time(expert_path(b.path(), 0)), kept) << "expert 0 was not trained again";
  }
}

TEST(DistillExperts, GsamAndStorageChangeTheTrajectories) {
  DistillConfig sgd = tiny(Method::mtt), gsam = sgd, half = sgd;
  gsam.experts.gsam = true;
  half.experts.storage = DType::f16;
  TempDir a, b, h;
  std::vector<Tensor> es = trained(sgd, a.path()), eg = trained(gsam, b.path()), eh = trained(half, h.path());
  EXPECT_TRUE(test::all_close(es[0].narrow(0, 0, 1), eg[0].narrow(0, 0, 1), 0, 0)) << "same initialisation";
  EXPECT_FALSE(test::all_close(es[0].narrow(0, 3, 1), eg[0].narrow(0, 3, 1), 1e-6, 0)) << "GSAM steps differently";
  EXPECT_EQ(eh[0].dtype(), DType::f16);
  EXPECT_TRUE(test::all_close(eh[0].to(DType::f32), es[0], 2e-3, 1e-4)) << "f16 rounds the same trajectory";
  EXPECT_LT(fs::file_size(expert_path(h.path(), 0)), fs::file_size(expert_path(a.path(), 0)) * 6 / 10);
}

TEST(DistillExperts, ForeignOrDamagedFilesAreRefused) {
  DistillConfig c = tiny(Method::mtt);
  TempDir t;
  trained(c, t.path());
  ExpertContext ctx = context(c, t.path());
  check_expert_files(ctx);
  ExpertContext other = ctx;
  other.shadow = 1;
  test::expect_error_mentioning([&] { check_expert_files(other); }, "made for shadow 0, not shadow 1");
  other = ctx;
  other.zca_digest = "0123456789abcdef";
  test::expect_error_mentioning([&] { load_experts(other); }, "made with another ZCA fit");
  other = ctx;
  other.private_digest = "def";
  test::expect_error_mentioning([&] { check_expert_files(other); }, "another private set");
  DistillConfig longer = c;
  longer.experts.epochs = 5;
  test::expect_error_mentioning([&] { check_expert_files(context(longer, t.path())); }, "made with epochs 3");
  // A flipped data byte: the header is fine, the digest is not.
  const std::string p = expert_path(t.path(), 1);
  std::vector<uint8_t> b = bytes(p);
  b[b.size() - 5] ^= 0x40;
  write_bytes(p, b);
  check_expert_files(ctx);
  test::expect_error_mentioning([&] { load_experts(ctx); }, "SHA-256");
  // A truncated file fails the header check.
  b.resize(b.size() - 100);
  write_bytes(p, b);
  test::expect_error_mentioning([&] { check_expert_files(ctx); }, p);
}

TEST(TrajectoryDistiller, StartWindowDeterminismResumeAndGate) {
  for (Method m : {Method::mtt, Method::datm}) {
    SCOPED_TRACE(method_name(m));
    DistillConfig c = tiny(m);
    TempDir t;
    std::vector<Tensor> experts = trained(c, t.path());
    Tensor logits = m == Method::datm ? test::randn({c.ipc * kClasses, kClasses}, DType::f32, 9) : Tensor();
    auto make = [&]() {
      return TrajectoryDistiller(c, kClasses, initial(c, 3), logits.defined() ? logits.contiguous().to(DType::f64).to(DType::f32) : Tensor(),
                                 experts, 17, Stream::cpu());
    };
    TrajectoryDistiller a = make();
    std::vector<int64_t> seen(size_t(c.max_start_epoch), 0);
    for (int64_t it = 0; it < 40; ++it) {
      TrajectoryDistiller::Draw d = a.draw(it);
      ASSERT_GE(d.start_epoch, c.min_start_epoch);
      ASSERT_LT(d.start_epoch, c.max_start_epoch);
      ++seen[size_t(d.start_epoch)];
      EXPECT_EQ(d.expert, a.draw(it).expert);
    }
    for (int64_t v : seen) EXPECT_GT(v, 0) << "every start epoch of the window is drawn";
    // Both experts are used within each round of two iterations.
    EXPECT_NE(a.draw(0).expert, a.draw(1).expert);

    c.threshold = m == Method::datm ? 1e9 : c.threshold;  // let DATM update here
    TrajectoryDistiller x = make(), y = make();
    for (int i = 0; i < 2; ++i) x.step(), y.step();
    std::map<std::string, Tensor> st = x.state();
    for (auto& [k, v] : st) v = v.to(Device::cpu()).contiguous().to(v.dtype());
    std::map<std::string, Tensor> saved;
    for (auto& [k, v] : st) saved[k] = v.to(DType::f64).to(v.dtype());  // deep copies
    for (int i = 0; i < 2; ++i) x.step();
    TrajectoryDistiller z = make();
    z.load_state(saved, "test");
    EXPECT_EQ(z.iteration(), 2);
    for (int i = 0; i < 2; ++i) z.step(), y.step();
    EXPECT_TRUE(test::all_close(x.images(), z.images(), 0, 0)) << "resume equals an uninterrupted run";
    EXPECT_TRUE(test::all_close(x.images(), y.images(), 0, 0)) << "deterministic";
    EXPECT_FALSE(test::all_close(x.images(), initial(c, 3), 0, 0)) << "the images moved";
    EXPECT_NE(x.learned_lr(), c.lr_teacher) << "the step size is learned";
    if (m == Method::datm) {
      EXPECT_FALSE(test::all_close(x.soft_labels(), make().soft_labels(), 0, 0)) << "the labels are learned";
      // The gate: with threshold 0 nothing is ever updated.
      c.threshold = 0;
      TrajectoryDistiller g = make();
      for (int i = 0; i < 3; ++i) g.step();
      EXPECT_EQ(g.skipped(), 3);
      EXPECT_TRUE(test::all_close(g.images(), initial(c, 3), 0, 0));
      EXPECT_DOUBLE_EQ(g.learned_lr(), double(float(c.lr_teacher)));
      EXPECT_EQ(g.record()["threshold_skipped_iterations"], 3);
    }
  }
}

TEST(TrajectoryDistiller, ModesAgreeAndTheStepLowersTheLoss) {
  DistillConfig c = tiny(Method::datm);
  c.threshold = 1e9;
  TempDir t;
  std::vector<Tensor> experts = trained(c, t.path());
  Tensor logits = test::randn({c.ipc * kClasses, kClasses}, DType::f32, 9);
  TrajectoryDistiller a(c, kClasses, initial(c, 3), logits, experts, 17, Stream::cpu());
  TrajectoryMatchResult u = a.evaluate(MetaGradMode::unrolled), j = a.evaluate(MetaGradMode::adjoint);
  EXPECT_NEAR(u.loss, j.loss, 1e-5 * u.loss);
  EXPECT_TRUE(test::all_close(u.grad_images, j.grad_images, 1e-3, 1e-3 * test::max_abs(u.grad_images)));
  EXPECT_NEAR(u.grad_lr, j.grad_lr, 1e-3 * std::abs(u.grad_lr));
  // Descend the images alone along their gradient for the same draw: the loss falls.
  DistillConfig small = c;
  const double n2 = [&] {
    double s = 0;
    for (double v : test::as_doubles(u.grad_images)) s += v * v;
    return s;
  }();
  Tensor moved = axpy(initial(c, 3), u.grad_images, -1e-3 * u.loss / n2);
  TrajectoryDistiller b(small, kClasses, moved, logits, experts, 17, Stream::cpu());
  EXPECT_LT(b.evaluate(MetaGradMode::adjoint).loss, u.loss);
}

TEST(TrajectorySetup, SamplesPredictedCorrectlyAndSoftLabels) {
  DistillConfig c = tiny(Method::datm);
  c.experts.epochs = 40;
  c.experts.lr = 0.05;
  c.experts.momentum = 0.9;
  c.experts.batch = 10;
  c.experts.gsam = false;
  c.experts.augment = false;
  c.net.width = 8;
  c.max_start_epoch = 2;
  c.ipc = 1;
  TempDir t;
  Data d;
  std::vector<Tensor> experts = trained(c, t.path());
  int64_t scanned = 0;
  std::vector<int64_t> pos = samples_predicted_correctly(c, experts, d.x, d.labels, kClasses, 7, Stream::cpu(), &scanned);
  ASSERT_EQ(pos.size(), size_t(kClasses));
  std::unique_ptr<Model> net = make_model(c.net);
  for (int64_t cls = 0; cls < kClasses; ++cls) {
    const int64_t i = pos[size_t(cls)];
    EXPECT_EQ(d.labels[size_t(i)], cls) << "class-major";
    // Some expert (the one the scan had reached) classifies it as labelled, at its last snapshot.
    bool right = false;
    for (size_t e = 0; e < size_t(scanned); ++e) {
      Tape tp(Stream::cpu());
      Tensor th = experts[e].narrow(0, experts[e].size(0) - 1, 1).view({experts[e].size(1)}).contiguous();
      Tensor z = tp.value(net->forward(tp, tp.leaf(th), Tensor::zeros({net->buffers().numel()}, DType::f32),
                                      tp.leaf(d.x.narrow(0, i, 1).contiguous()), false));
      auto v = test::as_doubles(z);
      right |= int64_t(std::max_element(v.begin(), v.end()) - v.begin()) == cls;
    }
    EXPECT_TRUE(right) << "class " << cls;
  }
  // Soft labels: the masked mean over the experts that classify each image as labelled.
  Tensor images = Tensor::empty({kClasses, 3, 8, 8}, DType::f32);
  std::vector<int64_t> lab;
  for (int64_t cls = 0; cls < kClasses; ++cls) images.narrow(0, cls, 1).copy_(d.x.narrow(0, pos[size_t(cls)], 1)), lab.push_back(cls);
  // At the last snapshot (every image selected is right for some expert) and at epoch 1, where the experts
  // disagree and some images are right for none (their logits are the plain mean).
  for (int64_t epoch : {int64_t(-1), int64_t(1)}) {
    SCOPED_TRACE("label_expert_epoch " + std::to_string(epoch));
    DistillConfig ce = c;
    ce.label_expert_epoch = epoch;
    int64_t unmatched = -1;
    Tensor y = initial_label_logits(ce, experts, images, lab, kClasses, true, Stream::cpu(), &unmatched);
    if (epoch < 0) EXPECT_EQ(unmatched, 0);
    std::vector<std::vector<double>> z;
    for (const Tensor& e : experts) {
      Tape tp(Stream::cpu());
      Tensor th = e.narrow(0, epoch < 0 ? e.size(0) - 1 : epoch, 1).view({e.size(1)}).contiguous();
      z.push_back(test::as_doubles(tp.value(net->forward(tp, tp.leaf(th), Tensor::zeros({net->buffers().numel()}, DType::f32),
                                                          tp.leaf(images), false))));
    }
    auto got = test::as_doubles(y);
    int64_t none = 0;
    for (int64_t i = 0; i < kClasses; ++i) {
      std::vector<double> want(kClasses, 0.0), all(kClasses, 0.0);
      int hits = 0;
      for (const auto& ze : z) {
        auto b = ze.begin() + i * kClasses;
        const bool right = std::max_element(b, b + kClasses) - b == lab[size_t(i)];
        hits += right;
        for (int64_t k = 0; k < kClasses; ++k) {
          all[size_t(k)] += ze[size_t(i * kClasses + k)] / double(z.size());
          if (right) want[size_t(k)] += ze[size_t(i * kClasses + k)];
        }
      }
      none += hits == 0;
      for (int64_t k = 0; k < kClasses; ++k)
        EXPECT_NEAR(got[size_t(i * kClasses + k)], hits ? want[size_t(k)] / hits : all[size_t(k)], 1e-5);
    }
    EXPECT_EQ(unmatched, none);
  }
  // The first expert's logits without the mask.
  Tensor y0 = initial_label_logits(c, experts, images, lab, kClasses, false, Stream::cpu());
  {
    Tape tp(Stream::cpu());
    Tensor th = experts[0].narrow(0, experts[0].size(0) - 1, 1).view({experts[0].size(1)}).contiguous();
    Tensor z0 = tp.value(net->forward(tp, tp.leaf(th), Tensor::zeros({net->buffers().numel()}, DType::f32), tp.leaf(images), false));
    EXPECT_TRUE(test::all_close(y0, z0, 1e-6, 1e-6));
  }

  DistillConfig many = c;
  many.ipc = kPerClass + 1;
  test::expect_error_mentioning([&] { samples_predicted_correctly(many, experts, d.x, d.labels, kClasses, 7, Stream::cpu()); },
                                "fewer than ipc 7");
}

TEST(CanaryView, CountsOutcomesAndFindsTheNearestSyntheticImage) {
  EXPECT_EQ(canary_outcome(3, 3, 5), 0);
  EXPECT_EQ(canary_outcome(5, 3, 5), 1);
  EXPECT_EQ(canary_outcome(1, 3, 5), 2);
  CanaryInputs in;
  in.audit_positions = {0, 4, 7};
  in.indices = {10, 40, 70};
  in.true_labels = {1, 2, 0};
  in.training_labels = {0, 1, 2};
  // Predictions: 0 (flipped), 2 (true), 1 (other).
  in.canary_logits = Tensor::from_vector<float>({5, 1, 0, 0, 1, 5, 0, 5, 1}, {3, 3});
  in.canary_images = Tensor::from_vector<float>({0, 0, 10, 10, 3, 3}, {3, 2});
  in.synthetic_images = Tensor::from_vector<float>({9, 9, 0.5, 0, 3, 4}, {3, 2});
  in.synthetic_logits = Tensor::from_vector<float>({0, 0, 1, 1, 0, 0, 0, 1, 0}, {3, 3});
  in.synthetic_labels = {2, 0, 1};
  in.synthetic_source = {-1, 10, 70};
  CanaryCounts counts;
  nlohmann::json j = canary_view(in, counts);
  EXPECT_EQ(counts.flipped, 1);
  EXPECT_EQ(counts.true_label, 1);
  EXPECT_EQ(counts.other, 1);
  ASSERT_EQ(j["canaries"].size(), 3u);
  EXPECT_EQ(j["canaries"][0]["outcome"], "flipped");
  EXPECT_EQ(j["canaries"][0]["nearest"]["row"], 1);
  EXPECT_NEAR(j["canaries"][0]["nearest"]["squared_distance"].get<double>(), 0.25, 1e-6);
  EXPECT_EQ(j["canaries"][0]["nearest"]["started_from_this_canary"], true);
  EXPECT_EQ(j["canaries"][0]["nearest"]["predicted"], 0);
  EXPECT_EQ(j["canaries"][1]["outcome"], "true");
  EXPECT_EQ(j["canaries"][1]["nearest"]["row"], 0);
  EXPECT_EQ(j["canaries"][1]["nearest"]["label"], 2);
  EXPECT_EQ(j["canaries"][2]["outcome"], "other");
  EXPECT_EQ(j["canaries"][2]["nearest"]["row"], 2);
  EXPECT_EQ(j["canaries"][2]["nearest"]["started_from_this_canary"], true);
  EXPECT_EQ(j["counts"]["true"], 1);
}
