// Selection-model training and its eval-mode outputs (see selection_model.h). Tested through
// tests/test_coreset_shadow.cpp.
#include "paradigms/coreset/selection_model.h"

#include <algorithm>
#include <cstdio>

#include "kernels/error.h"

namespace sp::coreset {

nlohmann::json SelectionRun::json() const {
  nlohmann::json h = nlohmann::json::array();
  for (const EpochStats& e : history)
    h.push_back({{"epoch", e.epoch + 1}, {"loss", e.loss}, {"accuracy", e.accuracy}, {"seconds", e.seconds}});
  return {{"epochs", history.size()}, {"history", h}};
}

SelectionRun train_selection_model(const SelectionContext& ctx, uint64_t seed, int epochs, const Trainer::StepHook& hook,
                                   const std::function<void(int epoch)>& after_epoch) {
  SP_CHECK(ctx.model && ctx.data && ctx.stream, "coreset selection: incomplete selection context");
  SP_CHECK(epochs >= 0 && epochs <= ctx.recipe.epochs, "coreset selection: ", epochs,
           " selection epochs outside the recipe's ", ctx.recipe.epochs);
  SelectionRun r;
  r.trainer = std::make_unique<Trainer>(*ctx.model, ctx.recipe, *ctx.stream, seed);
  if (hook) r.trainer->set_step_hook(hook);
  if (ctx.progress) ctx.progress->set_prefix(ctx.name);
  auto on_progress = [&](const TrainProgress& pr) {
    if (ctx.progress) ctx.progress->update(pr);
  };
  double interval = ctx.progress ? ctx.progress->update_interval_s() : 1e30;
  for (int e = 0; e < epochs; ++e) {
    const EpochStats& es = r.history.emplace_back(r.trainer->train_epoch(*ctx.data, e, on_progress, interval));
    if (after_epoch) after_epoch(e);
    if (ctx.progress) {
      char line[200];
      std::snprintf(line, sizeof line, "%s epoch %d/%d  loss %.4f  train acc %.2f%%  %s", ctx.name.c_str(), e + 1,
                    epochs, es.loss, 100 * es.accuracy, format_duration(es.seconds).c_str());
      ctx.progress->line(line);
    }
  }
  return r;
}

HostOutputs eval_outputs(const SelectionContext& ctx, Trainer& tr, bool with_features) {
  Stream& s = *ctx.stream;
  const DeviceData& d = *ctx.data;
  const Model& model = tr.model();
  HostOutputs o;
  o.n = d.size();
  o.C = model.config().num_classes;
  std::vector<int64_t> index(size_t(o.n));
  for (int64_t i = 0; i < o.n; ++i) index[size_t(i)] = i;
  Tensor ids = Tensor::from_vector(index, {o.n}).to(s.device(), s);
  Tape t(s);
  t.set_recording(false);
  const data::AugmentConfig& ac = tr.recipe().augment_cfg;
  const int64_t batch = std::max<int64_t>(1, ctx.eval_batch);
  for (int64_t lo = 0; lo < o.n; lo += batch) {
    const int64_t hi = std::min(o.n, lo + batch);
    Tensor x = data::normalize_batch(s, d.images, ids.slice(0, lo, hi), ac.norm, ac.dtype);
    ModelOutputs out = model.forward_features(t, t.leaf(tr.theta()), tr.buffers(), t.leaf(x), false);
    std::vector<float> z = t.value(out.logits).to(DType::f32, s).contiguous(s).to_vector<float>(s);
    o.logits.insert(o.logits.end(), z.begin(), z.end());
    if (with_features) {
      Tensor h = t.value(out.features);
      o.F = h.size(1);
      std::vector<float> hv = h.to(DType::f32, s).contiguous(s).to_vector<float>(s);
      o.features.insert(o.features.end(), hv.begin(), hv.end());
    }
    t.clear();
  }
  return o;
}

}  // namespace sp::coreset
