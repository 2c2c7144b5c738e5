// Coreset selection on the GPU: a selection model's eval-mode logits and penultimate features
// (Model::forward_features) agree with the CPU reference from the same initialisation (TF32 off), and the
// device paths of the methods (forgetting's per-step hook gathering training logits on the device, score and
// feature read-back) select valid per-class budgets. Skips without a GPU.
#include "data/procedural.h"
#include "paradigms/coreset/budget.h"
#include "paradigms/coreset/select.h"
#include "tests/gpu/gpu_test_util.h"

using namespace sp;
using namespace sp::coreset;

namespace {

struct Selector {
  std::unique_ptr<Model> model;
  DeviceData data;
  SelectionContext ctx;
  Selector(Stream& s, const data::Dataset& ds) {
    ModelConfig mc;
    mc.width = 8;
    model = make_model(mc);
    data = DeviceData::upload(ds, s);
    ctx.model = model.get();
    ctx.recipe.epochs = 2;
    ctx.recipe.batch_size = 32;
    ctx.recipe.schedule.base_lr = 0.05;
    ctx.data = &data;
    ctx.stream = &s;
    ctx.eval_batch = 50;
    ctx.seed = 3;
  }
};

float max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  float m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(a[i] - b[i]));
  return m;
}

}  // namespace

TEST(CoresetGpu, FeaturesMatchTheCpuAndSelectionsAreValid) {
  SP_REQUIRE_GPU();
  Stream& g = test::gpu_stream();
  const bool tf32 = g.allow_tf32;
  g.allow_tf32 = false;
  data::Dataset ds = data::make_shapes10(120, 6, "train", 1);
  Selector cpu(Stream::cpu(), ds), gpu(g, ds);

  // Same initialisation on both devices: eval-mode outputs of the untrained selection model.
  SelectionRun rc = train_selection_model(cpu.ctx, 11, 0), rg = train_selection_model(gpu.ctx, 11, 0);
  HostOutputs oc = eval_outputs(cpu.ctx, *rc.trainer, true), og = eval_outputs(gpu.ctx, *rg.trainer, true);
  ASSERT_EQ(og.logits.size(), oc.logits.size());
  ASSERT_EQ(og.features.size(), oc.features.size());
  EXPECT_EQ(og.F, 64);
  EXPECT_LT(max_abs_diff(og.logits, oc.logits), 1e-3f);
  EXPECT_LT(max_abs_diff(og.features, oc.features), 1e-3f);

  const std::vector<int64_t>& labels = gpu.data.host_labels;
  for (Method m : {Method::forgetting, Method::el2n, Method::grand, Method::herding, Method::kcenter}) {
    SCOPED_TRACE(method_name(m));
    CoresetConfig c;
    c.method = m;
    c.selection_epochs = 2;
    c.repeats = 2;
    SelectionResult r = select_coreset(c, gpu.ctx);
    std::vector<int64_t> h(10, 0);
    for (int64_t p : r.positions) ++h[size_t(labels[size_t(p)])];
    for (int64_t n : h) EXPECT_EQ(n, pool_budget(12, 0.4));
    EXPECT_EQ(std::adjacent_find(r.positions.begin(), r.positions.end()), r.positions.end());
    if (m == Method::forgetting) {
      // Every sample was presented twice: counts are finite or never learned, and some were learned.
      EXPECT_LT(r.details["forgetting_events"]["infinite"].get<int64_t>(), 120);
    }
  }
  g.allow_tf32 = tf32;
}
