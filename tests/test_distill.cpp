// Dataset distillation's pieces on tiny inputs (paradigms/distill/): the class pool draws distinct images
// of one class reproducibly; the three initialisations (real rows come from D_k's class with the audit
// samples recorded, noise is N(0, 1), OOD rows come from the other set's class; bad OOD sets and IPCs are
// refused by name); DC's and DM's image gradients are descent directions that agree with a central
// difference of their losses; iterations are deterministic and a distillation resumed from its checkpoint
// state ends with the same bytes; the DSA training source is reproducible and label-preserving; synthetic
// sets round-trip and corrupt files are refused by name.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <set>

#include "data/audit.h"
#include "data/procedural.h"
#include "data/sample_grid.h"
#include "nn/safetensors.h"
#include "paradigms/distill/augmented_source.h"
#include "paradigms/distill/class_pool.h"
#include "paradigms/distill/distiller.h"
#include "paradigms/distill/initial_images.h"
#include "paradigms/distill/loss_plot.h"
#include "paradigms/distill/synthetic_set.h"
#include "plot/write_figure.h"
#include "tests/distill_test_util.h"
#include "tests/lira_test_util.h"

using namespace sp;
using namespace sp::distill;
using sp::test::TempDir;

namespace {

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

void expect_has(const std::string& text, const std::string& needle) {
  EXPECT_NE(text.find(needle), std::string::npos) << "expected '" << needle << "' in:\n" << text;
}

DistillConfig tiny(Method m, int64_t ipc = 2) { return test::tiny_distill_config(m, ipc); }

struct Fixture {
  data::Dataset train = data::make_shapes10(120, 4, "train", 1);
  DeviceData d = DeviceData::upload(train, Stream::cpu());
  ClassPool pool{d, 10, data::Normalization::cifar10()};
  Tensor start(int64_t ipc) {
    std::vector<int64_t> pos;
    for (int64_t c = 0; c < 10; ++c)
      for (int64_t j = 0; j < ipc; ++j) pos.push_back(pool.positions(c)[size_t(j)]);
    return pool.images(Stream::cpu(), pos).contiguous();
  }
};

// A tiny experiment's training split, audit set, membership and model k's private set.
struct TinyExperiment {
  data::Dataset train;
  data::AuditSet audit;
  data::Membership m;
  data::TrainingSet ts;
  TinyExperiment(int64_t n, int64_t num_audit, int models, int k) : train(data::make_shapes10(n, 1, "train", 1)) {
    std::vector<int64_t> labels = train.labels.to_vector<int64_t>();
    audit = data::choose_audit_set(labels, 10, num_audit, data::CanaryType::mislabel, 3);
    m = data::assign_membership(num_audit, models, 3);
    ts = data::private_training_set(labels, audit, m, k);
  }
};

bool same_bytes(const Tensor& a, const Tensor& b) { return a.to_vector<float>() == b.to_vector<float>(); }

double dot(const Tensor& a, const Tensor& b) {
  std::vector<float> x = a.to_vector<float>(), y = b.to_vector<float>();
  double s = 0;
  for (size_t i = 0; i < x.size(); ++i) s += double(x[i]) * double(y[i]);
  return s;
}

}  // namespace

TEST(Distill, ClassPoolDrawsDistinctImagesOfOneClassReproducibly) {
  Fixture f;
  int64_t total = 0;
  for (int64_t c = 0; c < 10; ++c) {
    total += int64_t(f.pool.positions(c).size());
    std::vector<int64_t> a = f.pool.sample_positions(c, 5, 11, 3);
    EXPECT_EQ(a.size(), std::min<size_t>(5, f.pool.positions(c).size()));
    EXPECT_EQ(std::set<int64_t>(a.begin(), a.end()).size(), a.size()) << "distinct";
    for (int64_t p : a) EXPECT_EQ(f.d.host_labels[size_t(p)], c);
    EXPECT_EQ(f.pool.sample_positions(c, 5, 11, 3), a) << "a function of (key, id)";
    EXPECT_EQ(f.pool.sample_positions(c, 1000, 11, 3).size(), f.pool.positions(c).size()) << "capped at the class";
  }
  EXPECT_EQ(total, 120);
  EXPECT_NE(f.pool.sample_positions(0, 5, 11, 3), f.pool.sample_positions(0, 5, 11, 4));
  Tensor x = f.pool.images(Stream::cpu(), {0, 1});
  EXPECT_EQ(x.shape(), (Shape{2, 3, 32, 32}));
  // Normalised with the CIFAR-10 statistics: pixel 0 of image 0, channel 0.
  const double want = (f.train.image(0)[0] / 255.0 - 0.4914) / 0.2023;
  EXPECT_NEAR(x.to_vector<float>()[0], want, 1e-5);
}

TEST(Distill, InitialisationsComeFromWhereTheySay) {
  TinyExperiment x(200, 40, 4, 1);
  const data::Dataset& train = x.train;
  const data::AuditSet& audit = x.audit;
  const data::Membership& m = x.m;
  const data::TrainingSet& ts = x.ts;
  const data::Normalization norm = data::Normalization::cifar10();

  DistillConfig c = tiny(Method::dm, 4);
  InitialImages a = initial_images(c, train, ts, audit, nullptr, 10, norm, 5);
  EXPECT_EQ(a.images.shape(), (Shape{40, 3, 32, 32}));
  std::vector<float> px = a.images.to_vector<float>();
  std::set<int64_t> seen;
  for (int64_t row = 0; row < 40; ++row) {
    const int64_t src = a.source[size_t(row)];
    auto pos = std::lower_bound(ts.indices.begin(), ts.indices.end(), src);
    ASSERT_TRUE(pos != ts.indices.end() && *pos == src) << "row " << row << " is not in D_k";
    EXPECT_EQ(ts.labels[size_t(pos - ts.indices.begin())], row / 4) << "row " << row << " has its class's training label";
    EXPECT_TRUE(seen.insert(src).second) << "distinct";
    EXPECT_NEAR(px[size_t(row * 3072)], (train.image(src)[0] / 255.0 - 0.4914) / 0.2023, 1e-5);
  }
  for (int64_t j = 0; j < audit.size(); ++j) {
    const bool used = std::count(a.audit_used.begin(), a.audit_used.end(), j) > 0;
    EXPECT_EQ(used, seen.count(audit.indices[size_t(j)]) > 0) << j;
    if (used) EXPECT_TRUE(m.in(1, j)) << "an OUT canary can never seed the set";
  }
  InitialImages again = initial_images(c, train, ts, audit, nullptr, 10, norm, 5);
  EXPECT_EQ(again.source, a.source);
  EXPECT_NE(initial_images(c, train, ts, audit, nullptr, 10, norm, 6).source, a.source);

  c.init = Init::noise;
  InitialImages n = initial_images(c, train, ts, audit, nullptr, 10, norm, 5);
  std::vector<float> v = n.images.to_vector<float>();
  double mean = 0, sq = 0;
  for (float x : v) mean += x, sq += double(x) * x;
  mean /= double(v.size());
  EXPECT_NEAR(mean, 0, 0.02);
  EXPECT_NEAR(std::sqrt(sq / double(v.size()) - mean * mean), 1.0, 0.02);
  EXPECT_TRUE(n.audit_used.empty());
  EXPECT_EQ(n.source, std::vector<int64_t>(40, -1));

  c.init = Init::ood;
  data::Dataset ood = load_ood_set("shapes10:seed=9,train=80,test=4", train, 4);
  InitialImages o = initial_images(c, train, ts, audit, &ood, 10, norm, 5);
  for (int64_t row = 0; row < 40; ++row) EXPECT_EQ(ood.label(o.source[size_t(row)]), row / 4);
  EXPECT_TRUE(o.audit_used.empty());
}

TEST(Distill, BadInitialisationsAreRefusedByName) {
  TinyExperiment x(100, 10, 2, 0);
  const data::Dataset& train = x.train;
  std::string e = error_of([&] { check_real_init(x.ts, 10, 50, 0); });
  expect_has(e, "distill.ipc: 50 images per class");
  expect_has(e, "shadow 0's private set has only");
  e = error_of([&] { load_ood_set("shapes10:seed=9,train=30,test=4", train, 10); });
  expect_has(e, "distill.ipc: 10 images per class");
  e = error_of([&] { load_ood_set("folder:/no/such/dir", train, 1); });
  expect_has(e, "/no/such/dir does not exist");
  expect_has(e, "cinic10-imagenet-ood");
  // A folder with other classes.
  TempDir t;
  for (const char* cls : {"apple", "pear"}) {
    std::filesystem::create_directories(t / ("ood/train/" + std::string(cls)));
    std::vector<uint8_t> px(3 * 32 * 32, 100);
    data::write_png(t / ("ood/train/" + std::string(cls) + "/0.png"), px.data(), 3, 32, 32);
  }
  e = error_of([&] { load_ood_set("folder:" + t / "ood", train, 1); });
  expect_has(e, "has the classes [apple, pear]");
}

TEST(Distill, DcAndDmImageGradientsDescendTheirLosses) {
  Fixture f;
  for (Method method : {Method::dc, Method::dsa, Method::dm}) {
    SCOPED_TRACE(method_name(method));
    DistillConfig c = tiny(method);
    Distiller dist(c, f.pool, f.start(2), 21, Stream::cpu());
    Tensor g;
    const double l0 = dist.class_loss(3, &g);
    ASSERT_TRUE(std::isfinite(l0));
    std::vector<float> gv = g.to_vector<float>();
    // Only class 3's rows move.
    for (size_t i = 0; i < gv.size(); ++i)
      if (i / 3072 / 2 != 3) ASSERT_EQ(gv[i], 0.f) << i;
    const double gg = dot(g, g);
    ASSERT_GT(gg, 0);
    // A central difference along the gradient agrees with |g|^2 (f32, so loosely), and a small step down the
    // gradient lowers the loss.
    const double h = 2e-3 / std::sqrt(gg);
    Tensor x0 = dist.images().clone();
    auto loss_at = [&](double t) {
      std::vector<float> x = x0.to_vector<float>();
      for (size_t i = 0; i < x.size(); ++i) x[i] += float(t * gv[i]);
      dist.images().copy_(Tensor::from_vector(x, x0.shape()));
      return dist.class_loss(3);
    };
    const double up = loss_at(h), down = loss_at(-h), fd = (up - down) / (2 * h);
    EXPECT_NEAR(fd / gg, 1.0, 0.1) << "fd " << fd << " |g|^2 " << gg;
    EXPECT_LT(down, l0);
    EXPECT_GT(up, l0);
  }
}

TEST(Distill, IterationsAreDeterministicAndResumeToTheSameBytes) {
  Fixture f;
  for (Method method : {Method::dc, Method::dsa, Method::dm}) {
    SCOPED_TRACE(method_name(method));
    DistillConfig c = tiny(method);
    Distiller a(c, f.pool, f.start(2), 9, Stream::cpu());
    std::vector<double> losses;
    for (int i = 0; i < 3; ++i) losses.push_back(a.step());
    EXPECT_EQ(a.iteration(), 3);
    EXPECT_FALSE(same_bytes(a.images(), f.start(2))) << "the images moved";

    Distiller b(c, f.pool, f.start(2), 9, Stream::cpu());
    EXPECT_EQ(b.step(), losses[0]);
    // Through a checkpoint file, as a killed run resumes.
    TempDir t;
    save_safetensors(t / "ck.safetensors", b.state());
    Distiller r(c, f.pool, f.start(2), 9, Stream::cpu());
    r.load_state(load_safetensors(t / "ck.safetensors").tensors, "ck");
    EXPECT_EQ(r.iteration(), 1);
    EXPECT_EQ(r.step(), losses[1]);
    EXPECT_EQ(r.step(), losses[2]);
    EXPECT_TRUE(same_bytes(r.images(), a.images()));

    Distiller other(c, f.pool, f.start(2), 10, Stream::cpu());
    EXPECT_NE(other.step(), losses[0]) << "another key, another network and batches";
    std::map<std::string, Tensor> st = a.state();
    st["images"] = Tensor::zeros({4, 3, 32, 32}, DType::f32);
    expect_has(error_of([&] { r.load_state(st, "ck2"); }), "ck2: checkpoint images");
  }
}

TEST(Distill, DsaTrainingSourceIsReproducibleAndKeepsLabels) {
  Fixture f;
  Tensor x = f.start(3);
  std::vector<int64_t> y;
  for (int64_t c = 0; c < 10; ++c) y.insert(y.end(), 3, c);
  Tensor labels = Tensor::from_vector(y, {30});
  Stream& s = Stream::cpu();
  DsaImageSource plain(s, x, labels, 4, {}), aug(s, x, labels, 4, dsa::parse_strategy("color_crop_cutout_flip_scale_rotate"));
  ImageSetSource ref(s, x, labels, 4);
  for (int epoch = 0; epoch < 3; ++epoch) {
    plain.begin_epoch(s, epoch), aug.begin_epoch(s, epoch), ref.begin_epoch(s, epoch);
    for (int64_t lo = 0; lo < 30; lo += 8) {
      const int64_t hi = std::min<int64_t>(30, lo + 8);
      Batch p = plain.batch(s, epoch, lo, hi), a = aug.batch(s, epoch, lo, hi), r = ref.batch(s, epoch, lo, hi);
      EXPECT_TRUE(same_bytes(p.x, r.x)) << "no strategy: the set as it is";
      EXPECT_EQ(a.labels.to_vector<int64_t>(), r.labels.to_vector<int64_t>());
      EXPECT_EQ(a.x.shape(), r.x.shape());
      EXPECT_TRUE(same_bytes(aug.batch(s, epoch, lo, hi).x, a.x)) << "reproducible";
    }
  }
  // Augmentation changes images (one group per batch; over several batches some pixel must change).
  int changed = 0;
  aug.begin_epoch(s, 5), ref.begin_epoch(s, 5);
  for (int64_t lo = 0; lo < 30; lo += 8)
    changed += !same_bytes(aug.batch(s, 5, lo, std::min<int64_t>(30, lo + 8)).x, ref.batch(s, 5, lo, std::min<int64_t>(30, lo + 8)).x);
  EXPECT_GT(changed, 0);
}

TEST(Distill, SyntheticSetsRoundTripAndCorruptFilesAreRefused) {
  TempDir t;
  SyntheticSet set;
  std::vector<float> px(6 * 3 * 4 * 4);
  for (size_t i = 0; i < px.size(); ++i) px[i] = float(i % 17) * 0.1f - 0.8f;
  set.images = Tensor::from_vector(px, {6, 3, 4, 4});
  set.labels = Tensor::from_vector(std::vector<int64_t>{0, 0, 1, 1, 2, 2}, {6});
  save_synthetic(t / "s.safetensors", set, {{"method", "dm"}});
  SyntheticSet back = load_synthetic(t / "s.safetensors", 3, 3, 4, 4);
  EXPECT_EQ(back.images.to_vector<float>(), px);
  EXPECT_EQ(back.labels.to_vector<int64_t>(), set.labels.to_vector<int64_t>());
  EXPECT_FALSE(back.soft.defined());
  EXPECT_EQ(load_safetensors(t / "s.safetensors").metadata.at("method"), "dm");

  expect_has(error_of([&] { load_synthetic(t / "s.safetensors", 2, 3, 4, 4); }), "label 2 is outside [0, 2)");
  expect_has(error_of([&] { load_synthetic(t / "s.safetensors", 3, 3, 8, 8); }), "s.safetensors: images must be f32 [N, 3, 8, 8]");
  std::vector<float> bad = px;
  bad[5] = std::nanf("");
  save_safetensors(t / "nan.safetensors", {{"images", Tensor::from_vector(bad, {6, 3, 4, 4})}, {"labels", set.labels}});
  expect_has(error_of([&] { load_synthetic(t / "nan.safetensors", 3, 3, 4, 4); }), "nan.safetensors: images hold a non-finite value");
  save_safetensors(t / "nolabels.safetensors", {{"images", set.images}});
  expect_has(error_of([&] { load_synthetic(t / "nolabels.safetensors", 3, 3, 4, 4); }), "labels");
  sp::test::write_text(t / "junk.safetensors", "not a file");
  expect_has(error_of([&] { load_synthetic(t / "junk.safetensors", 3, 3, 4, 4); }), "junk.safetensors");

  // The grid: 3 rows (classes) of 2 images of 4x4 at scale 2, 1-pixel gutters: 2 * 9 + 1 wide, 3 * 9 + 1 high.
  data::Normalization norm{{0.5, 0.5, 0.5}, {0.25, 0.25, 0.25}};
  save_synthetic_grid(t / "g.png", set.images, set.labels.to_vector<int64_t>(), 3, norm, {true, false, false, false, false, false});
  std::string png = sp::test::read_text(t / "g.png");
  ASSERT_GT(png.size(), 24u);
  auto be32 = [&](size_t at) {
    return (uint32_t(uint8_t(png[at])) << 24) | (uint32_t(uint8_t(png[at + 1])) << 16) | (uint32_t(uint8_t(png[at + 2])) << 8) |
           uint32_t(uint8_t(png[at + 3]));
  };
  EXPECT_EQ(be32(16), 19u);
  EXPECT_EQ(be32(20), 28u);
}

TEST(Distill, LossPlotDrawsEveryCurveAndRefusesNothing) {
  TempDir t;
  const std::vector<LossCurve> curves = {{"shadow 0", {{0, 3.0}, {10, 2.0}, {20, 1.5}}}, {"shadow 1", {{0, 2.5}, {20, 1.0}}}};
  // The axes cover every point, and each shadow is a labelled curve.
  const sp::plot::Figure f = loss_figure(curves, "loss", "loss.png");
  EXPECT_LE(f.x.min, 0.0);
  EXPECT_GE(f.x.max, 20.0);
  EXPECT_LE(f.y.min, 1.0);
  EXPECT_GE(f.y.max, 3.0);
  ASSERT_EQ(f.lines.size(), 2u);
  EXPECT_EQ(f.lines[1].label, "shadow 1");
  const std::vector<std::string> written = write_loss_plot(t / "loss", curves, "loss");
  if (sp::plot::plots_available()) {
    EXPECT_EQ(written.size(), 2u);
    std::string png = sp::test::read_text(t / "loss.png");
    EXPECT_EQ(png.substr(1, 3), "PNG");
    EXPECT_GT(png.size(), 1000u);
    EXPECT_NE(sp::test::read_text(t / "loss.svg").find("shadow 1"), std::string::npos);
  }
  expect_has(error_of([&] { write_loss_plot(t / "empty", {{"shadow 0", {}}}, "loss"); }), "no finite point");
  EXPECT_FALSE(std::filesystem::exists(t / "empty.png"));
}
