// The coreset selection driver (see select.h).
#include "paradigms/coreset/select.h"

#include <cmath>

#include "kernels/counter_rng.h"
#include "kernels/error.h"
#include "paradigms/coreset/budget.h"
#include "paradigms/coreset/forgetting.h"
#include "paradigms/coreset/geometry.h"
#include "paradigms/coreset/scores.h"

namespace sp::coreset {

namespace {

constexpr uint64_t kPurposeRun = 0x434f52455352554eULL;     // "CORESRUN"
constexpr uint64_t kPurposeChoose = 0x434f524553434855ULL;  // "CORESCHU"

std::vector<double> forgetting_scores(const CoresetConfig& c, const SelectionContext& ctx, nlohmann::json& details) {
  Stream& s = *ctx.stream;
  const int64_t n = ctx.data->size(), C = ctx.model->config().num_classes;
  const uint64_t seed = selection_run_seed(ctx.seed, 0);
  // Training-mode logits of one epoch in epoch order, gathered on the device without a synchronisation per
  // step and read back once at the epoch's end.
  Tensor epoch_logits = Tensor::zeros({n, C}, DType::f32, s);
  int64_t rows = 0;
  auto hook = [&](int64_t first, const Tensor&, const Tensor& z) {
    epoch_logits.slice(0, first, first + z.size(0)).copy_(z, s);
    rows = std::max(rows, first + z.size(0));
  };
  ForgettingCounter counter(n);
  auto after_epoch = [&](int epoch) {
    std::vector<int64_t> perm = epoch_permutation(n, seed, epoch);
    perm.resize(size_t(rows));  // drop_last leaves the tail unpresented
    counter.record_logits(perm, epoch_logits.slice(0, 0, rows).to_vector<float>(s), C, ctx.data->host_labels);
    rows = 0;
  };
  SelectionRun run = train_selection_model(ctx, seed, c.selection_epochs, hook, after_epoch);
  std::vector<double> scores = counter.scores();
  details["runs"] = nlohmann::json::array({run.json()});
  details["forgetting_events"] = score_summary(scores);
  return scores;
}

// Mean score over `repeats` selection models (el2n, grand) or the score of one (uncertainty).
std::vector<double> model_scores(const CoresetConfig& c, const SelectionContext& ctx, nlohmann::json& details) {
  const int repeats = (c.method == Method::el2n || c.method == Method::grand) ? c.repeats : 1;
  std::vector<double> mean(size_t(ctx.data->size()), 0.0);
  details["runs"] = nlohmann::json::array();
  for (int r = 0; r < repeats; ++r) {
    SelectionContext named = ctx;
    named.name = ctx.name + " run " + std::to_string(r + 1) + "/" + std::to_string(repeats);
    SelectionRun run = train_selection_model(named, selection_run_seed(ctx.seed, r), c.selection_epochs);
    HostOutputs o = eval_outputs(ctx, *run.trainer, c.method == Method::grand);
    std::vector<double> s = score_rows(c.method, c.score, o.logits, o.C, ctx.data->host_labels, o.features, o.F);
    for (size_t i = 0; i < s.size(); ++i) mean[i] += s[i] / double(repeats);
    details["runs"].push_back(run.json());
  }
  details["scores"] = score_summary(mean);
  return mean;
}

}  // namespace

nlohmann::json score_summary(const std::vector<double>& s) {
  int64_t inf = 0;
  double sum = 0, lo = INFINITY, hi = -INFINITY;
  int64_t finite = 0;
  for (double v : s) {
    if (std::isinf(v)) {
      ++inf;
      continue;
    }
    sum += v, ++finite;
    lo = std::min(lo, v), hi = std::max(hi, v);
  }
  nlohmann::json j = {{"infinite", inf}};
  if (finite) j.update({{"mean", sum / double(finite)}, {"min", lo}, {"max", hi}});
  return j;
}

uint64_t selection_run_seed(uint64_t seed, int r) { return crng::mix64(crng::derive_key(seed, kPurposeRun) + uint64_t(r)); }

SelectionResult select_coreset(const CoresetConfig& c, const SelectionContext& ctx) {
  SP_CHECK(ctx.data, "coreset selection: no data");
  const std::vector<int64_t>& labels = ctx.data->host_labels;
  const uint64_t choose_seed = crng::derive_key(ctx.seed, kPurposeChoose);
  SelectionResult r;
  r.details = {{"method", method_name(c.method)}};
  switch (c.method) {
    case Method::uniform:
      r.positions = select_from_pools(labels, c.fraction, c.balance, choose_seed, choose_uniform);
      break;
    case Method::forgetting:
    case Method::el2n:
    case Method::grand:
    case Method::uncertainty: {
      r.scores = c.method == Method::forgetting ? forgetting_scores(c, ctx, r.details) : model_scores(c, ctx, r.details);
      r.positions = select_from_pools(labels, c.fraction, c.balance, choose_seed, [&](const Pool& p, int64_t budget, uint64_t seed) {
        return choose_top(r.scores, p, budget, seed);
      });
      break;
    }
    case Method::herding:
    case Method::kcenter: {
      SelectionRun run = train_selection_model(ctx, selection_run_seed(ctx.seed, 0), c.selection_epochs);
      HostOutputs o = eval_outputs(ctx, *run.trainer, true);
      r.details["runs"] = nlohmann::json::array({run.json()});
      r.details["feature_dim"] = o.F;
      r.positions = select_from_pools(labels, c.fraction, c.balance, choose_seed, [&](const Pool& p, int64_t budget, uint64_t seed) {
        return c.method == Method::herding ? herding(o.features, o.F, p, budget)
                                           : kcenter_greedy(o.features, o.F, p, budget, seed);
      });
      break;
    }
  }
  return r;
}

}  // namespace sp::coreset
