// The training loop on the CPU with a tiny conv net: the loss falls, runs are bit-reproducible, an epoch-
// boundary resume (parameters, buffers and optimiser state restored) equals an uninterrupted run, and
// divergence and bad recipes are reported; the step hook sees every step's batch in epoch order without
// changing the run; predict's query views, all 18 or a selection (the matching rows of all 18).
#include "paradigms/engine/train_loop.h"

#include "data/procedural.h"
#include "kernels/counter_rng.h"
#include "nn/ops_conv.h"
#include "nn/ops_elementwise.h"
#include "nn/ops_matmul.h"
#include "tests/test_util.h"

using namespace sp;
using namespace sp::ag;

namespace {

// conv3x3(3->8) -> relu -> global average pool -> linear(8->10); no buffers.
class TinyNet : public Model {
 public:
  TinyNet() {
    params_.add("conv.weight", {8, 3, 3, 3});
    params_.add("conv.bias", {8});
    params_.add("fc.weight", {10, 8});
    params_.add("fc.bias", {10});
  }
  const ModelConfig& config() const override { return cfg_; }
  const ParamLayout& params() const override { return params_; }
  const ParamLayout& buffers() const override { return buffers_; }
  void init(Stream& s, const Tensor& theta, const Tensor&, uint64_t seed) const override {
    crng::Stream32 r(seed, 7);
    std::vector<float> v(size_t(params_.numel()));
    for (auto& x : v) x = r.uniform(-0.3f, 0.3f);
    theta.copy_(Tensor::from_vector(v, {params_.numel()}), s);
  }
  Var forward(Tape& t, Var theta, const Tensor&, Var x, bool) const override {
    Conv2dParams p;
    p.padding = 1;
    Var h = relu(t, conv2d(t, x, params_.view(t, theta, "conv.weight"), params_.view(t, theta, "conv.bias"), p));
    return linear(t, global_avg_pool(t, h), params_.view(t, theta, "fc.weight"), params_.view(t, theta, "fc.bias"));
  }

 private:
  ModelConfig cfg_;
  ParamLayout params_, buffers_;
};

TrainRecipe small_recipe(int epochs) {
  TrainRecipe r;
  r.epochs = epochs;
  r.batch_size = 64;
  r.optim.kind = OptimKind::sgd;
  r.optim.momentum = 0.9;
  r.optim.nesterov = true;
  r.optim.weight_decay = 5e-4;
  r.schedule.kind = ScheduleKind::warmup_cosine;
  r.schedule.base_lr = 0.05;
  r.schedule.warmup_steps = 4;
  return r;
}

const data::Dataset& train_set() {
  static data::Dataset d = data::make_shapes10(256, 11, "train");
  return d;
}

}  // namespace

TEST(TrainLoop, LossFallsAndMetricsAreConsistent) {
  TinyNet net;
  Trainer tr(net, small_recipe(3), Stream::cpu(), 5);
  DeviceData d = DeviceData::upload(train_set(), Stream::cpu());
  std::vector<double> losses;
  int calls = 0;
  for (int e = 0; e < 3; ++e) {
    EpochStats st = tr.train_epoch(d, e, [&](const TrainProgress& p) {
      ++calls;
      EXPECT_EQ(p.epoch, e);
      EXPECT_EQ(p.steps, 4);
      EXPECT_GE(p.accuracy, 0.0);
      EXPECT_LE(p.accuracy, 1.0);
    });
    EXPECT_EQ(st.epoch, e);
    EXPECT_GT(st.images_per_s, 0.0);
    losses.push_back(st.loss);
  }
  EXPECT_GE(calls, 3);  // at least the end of each epoch
  EXPECT_LT(losses.back(), losses.front());
  EXPECT_EQ(tr.optimizer().steps(), 12);
  double acc = tr.evaluate(d, 100);
  EXPECT_GE(acc, 0.0);
  EXPECT_LE(acc, 1.0);
  Tensor ids = Tensor::from_vector<int64_t>({0, 5, 9}, {3});
  EXPECT_EQ(tr.predict(d, ids).shape(), Shape({3, 10}));
  Tensor all = tr.predict(d, ids, true);
  EXPECT_EQ(all.shape(), Shape({3, 18, 10}));
  // A selection of views: its logits are those views' rows of the full query (the clean image is view 0,
  // its flip view 9), and the clean view is the plain prediction.
  Tensor flips = tr.predict(d, ids, true, data::QueryViews::flips);
  EXPECT_EQ(flips.shape(), Shape({3, 2, 10}));
  EXPECT_TRUE(test::all_close(flips.select(1, 0), all.select(1, 0), 1e-6, 1e-6));
  EXPECT_TRUE(test::all_close(flips.select(1, 1), all.select(1, 9), 1e-6, 1e-6));
  Tensor clean = tr.predict(d, ids, true, data::QueryViews::clean);
  EXPECT_EQ(clean.shape(), Shape({3, 1, 10}));
  EXPECT_TRUE(test::all_close(clean.select(1, 0), tr.predict(d, ids), 1e-6, 1e-6));
}

TEST(TrainLoop, ReproducibleAndResumableAtEpochBoundaries) {
  TinyNet net;
  DeviceData d = DeviceData::upload(train_set(), Stream::cpu());
  Trainer a(net, small_recipe(2), Stream::cpu(), 9);
  a.train_epoch(d, 0);
  a.train_epoch(d, 1);

  Trainer b(net, small_recipe(2), Stream::cpu(), 9);
  b.train_epoch(d, 0);
  Tensor theta = b.theta().clone(), buffers = b.buffers().clone();
  auto state = b.optimizer().state();
  std::map<std::string, Tensor> saved;
  for (auto& [k, v] : state) saved[k] = v.clone();

  Trainer c(net, small_recipe(2), Stream::cpu(), 9);  // a fresh process resuming after epoch 0
  c.theta().copy_(theta);
  c.buffers().copy_(buffers);
  c.optimizer().load_state(saved);
  c.train_epoch(d, 1);
  EXPECT_EQ(c.theta().to_vector<float>(), a.theta().to_vector<float>());
  EXPECT_EQ(c.optimizer().steps(), a.optimizer().steps());
}

TEST(TrainLoop, StepHookSeesEveryBatchInEpochOrder) {
  TinyNet net;
  DeviceData d = DeviceData::upload(train_set(), Stream::cpu());
  TrainRecipe r = small_recipe(2);
  r.batch_size = 100;  // 256 samples: batches of 100, 100, 56
  Trainer plain(net, r, Stream::cpu(), 4), hooked(net, r, Stream::cpu(), 4);
  std::vector<int64_t> firsts, ids;
  int64_t rows = 0;
  hooked.set_step_hook([&](int64_t first, const Tensor& bid, const Tensor& logits) {
    firsts.push_back(first);
    EXPECT_EQ(logits.shape(), Shape({bid.size(0), 10}));
    rows += logits.size(0);
    std::vector<int64_t> v = bid.to_vector<int64_t>();
    ids.insert(ids.end(), v.begin(), v.end());
  });
  for (int e = 0; e < 2; ++e) {
    plain.train_epoch(d, e);
    hooked.train_epoch(d, e);
  }
  EXPECT_EQ(firsts, (std::vector<int64_t>{0, 100, 200, 0, 100, 200}));
  EXPECT_EQ(rows, 512);
  std::vector<int64_t> want = epoch_permutation(256, 4, 0), second = epoch_permutation(256, 4, 1);
  want.insert(want.end(), second.begin(), second.end());
  EXPECT_EQ(ids, want);
  EXPECT_EQ(hooked.theta().to_vector<float>(), plain.theta().to_vector<float>()) << "the hook only observes";
}

TEST(TrainLoop, EpochPermutationIsAPermutationAndSeeded) {
  auto p = epoch_permutation(1000, 3, 0);
  std::vector<int64_t> s = p;
  std::sort(s.begin(), s.end());
  for (int64_t i = 0; i < 1000; ++i) ASSERT_EQ(s[i], i);
  EXPECT_EQ(p, epoch_permutation(1000, 3, 0));
  EXPECT_NE(p, epoch_permutation(1000, 3, 1));
  EXPECT_NE(p, epoch_permutation(1000, 4, 0));
}

TEST(TrainLoop, DivergenceAndBadRecipesAreErrors) {
  TinyNet net;
  DeviceData d = DeviceData::upload(train_set(), Stream::cpu());
  TrainRecipe r = small_recipe(1);
  r.schedule.kind = ScheduleKind::constant;
  r.schedule.base_lr = 1e30;
  Trainer t(net, r, Stream::cpu(), 1);
  try {
    t.train_epoch(d, 0);
    t.train_epoch(d, 0);
    FAIL() << "expected divergence to be reported";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("diverged"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("learning rate 1e+30 (recipe.optimizer.lr)"), std::string::npos) << e.what();
  }
  TrainRecipe bad = small_recipe(1);
  bad.batch_size = 0;
  EXPECT_THROW(Trainer(net, bad, Stream::cpu(), 1), Error);
}

TEST(TrainLoop, ProgressReadsTheDeviceAtMostEveryProgressSyncInterval) {
  TinyNet net;
  DeviceData d = DeviceData::upload(train_set(), Stream::cpu());
  Trainer tr(net, small_recipe(2), Stream::cpu(), 5);
  int calls = 0;
  auto count = [&](const TrainProgress&) { ++calls; };
  TrainExecution ex;
  ex.progress_sync_s = 3600;  // far longer than the epoch: only the epoch's end reports
  tr.set_execution(ex);
  tr.train_epoch(d, 0, count, 0.0);
  EXPECT_EQ(calls, 1);
  ex.progress_sync_s = 0;  // no floor: the caller's interval (0) reports after every step
  tr.set_execution(ex);
  calls = 0;
  tr.train_epoch(d, 0, count, 0.0);
  EXPECT_EQ(calls, 4);
}

TEST(TrainLoop, CudaGraphsAreAGpuSetting) {
  TinyNet net;
  Trainer tr(net, small_recipe(1), Stream::cpu(), 5);
  EXPECT_EQ(tr.step_graph(), nullptr) << "off by default";
  TrainExecution ex;
  ex.cuda_graphs = CudaGraphMode::automatic;
  tr.set_execution(ex);
  EXPECT_EQ(tr.step_graph(), nullptr) << "auto: no graphs on the CPU";
  ex.cuda_graphs = CudaGraphMode::on;
  try {
    tr.set_execution(ex);
    FAIL() << "graphs on for a CPU trainer";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("device.cuda_graphs"), std::string::npos) << e.what();
  }
  ex = TrainExecution();
  ex.progress_sync_s = -1;
  EXPECT_THROW(tr.set_execution(ex), Error);
  tr.invalidate_step_graph("no graph: nothing to drop");
}
