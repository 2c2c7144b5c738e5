// Gradient matching, distribution matching and BN-statistics losses (see matching_losses.h).
#include "nn/matching_losses.h"

#include <cmath>
#include <string>

#include "kernels/axpby.h"
#include "kernels/error.h"
#include "nn/ops_elementwise.h"
#include "nn/ops_reduce.h"

namespace sp {

namespace {
Var scalar(Tape& t, double v, DType dt) { return t.leaf(Tensor::full({}, v, dt, t.stream())); }
// |d|_2 over all elements.
Var l2_norm(Tape& t, Var d) { return ag::sqrt(t, ag::sum(t, ag::mul(t, d, d))); }
Tensor scaled(Stream& s, const Tensor& x, double a) {
  Tensor y = Tensor::empty(x.shape(), x.dtype(), s);
  axpby(s, y, x.contiguous(s), a, 0);
  return y;
}
}  // namespace

Var gradient_match_distance(Tape& t, const ParamLayout& params, Var g_syn, const Tensor& g_real) {
  Stream& s = t.stream();
  const Tensor& gs = t.value(g_syn);
  SP_CHECK(gs.dim() == 1 && gs.numel() == params.numel() && g_real.shape() == gs.shape() &&
               g_real.dtype() == gs.dtype() && g_real.device() == gs.device(),
           "gradient_match_distance: gradients ", gs.str(), " and ", g_real.str(), " must both be [",
           params.numel(), "] of one dtype and device");
  Tensor real = g_real.contiguous(s);
  Var total;
  for (const ParamSpec& p : params.specs()) {
    if (p.shape.size() <= 1) continue;  // DC's 'ours' distance skips biases and norm scales
    const int64_t rows = p.shape[0], cols = p.numel() / rows;
    Tensor a = real.narrow(0, p.offset, p.numel()).view({rows, cols});
    // |a| per row is a constant: computed once, outside the tape.
    Var av = t.leaf(a);
    Var na = ag::sqrt(t, ag::sum(t, ag::mul(t, av, av), {1}));
    Var b = t.view(g_syn, p.offset, {rows, cols});
    Var nb = ag::sqrt(t, ag::sum(t, ag::mul(t, b, b), {1}));
    Var dot = ag::sum(t, ag::mul(t, av, b), {1});
    Var cos = ag::div(t, dot, ag::add(t, ag::mul(t, na, nb), scalar(t, 1e-6, gs.dtype())));
    Var d = ag::sub(t, scalar(t, double(rows), gs.dtype()), ag::sum(t, cos));
    total = total.valid() ? ag::add(t, total, d) : d;
  }
  SP_CHECK(total.valid(), "gradient_match_distance: the layout has no parameter with more than one dimension");
  return total;
}

Var distribution_match_loss(Tape& t, Var emb_real, Var emb_syn) {
  const Tensor &r = t.value(emb_real), &y = t.value(emb_syn);
  SP_CHECK(r.dim() == 2 && y.dim() == 2 && r.size(1) == y.size(1) && r.size(0) > 0 && y.size(0) > 0,
           "distribution_match_loss: embeddings ", r.str(), " and ", y.str(), " must be [N, F] with the same F");
  Var d = ag::sub(t, ag::mean(t, emb_real, {0}), ag::mean(t, emb_syn, {0}));
  return ag::sum(t, ag::mul(t, d, d));
}

Var bn_statistics_loss(Tape& t, const LayerTrace& trace, const Model& teacher, const Tensor& buffers,
                       const BnStatistics* previous, double momentum, BnStatistics* batch) {
  const ParamLayout& P = teacher.params();
  const ParamLayout& B = teacher.buffers();
  const bool blend = previous && !previous->empty();
  if (batch) *batch = BnStatistics{};
  Var total;
  size_t layer = 0;
  for (const TracedLayer& l : trace.layers()) {
    if (l.kind != TracedLayer::Kind::batch_norm) continue;
    // The layer's name from its weight's place in theta; its running statistics by that name.
    std::string name;
    for (const ParamSpec& p : P.specs())
      if (p.offset == l.weight_offset) name = p.name.substr(0, p.name.size() - std::string(".weight").size());
    SP_CHECK(!name.empty(), "bn_statistics_loss: a traced batch-norm layer of ", teacher.config().name,
             " has no weight in its parameters");
    Tensor rm = B.view(buffers, name + ".running_mean"), rv = B.view(buffers, name + ".running_var");
    const Tensor& xv = t.value(l.x);
    SP_CHECK(xv.dim() == 4, "bn_statistics_loss: layer ", name, " input ", xv.str(), " is not NCHW");
    const int64_t C = xv.size(1);
    Var mu = t.reshape(ag::mean(t, l.x, {0, 2, 3}, true), {C});
    Var xc = ag::sub(t, l.x, t.reshape(mu, {1, C, 1, 1}));
    Var var = ag::mean(t, ag::mul(t, xc, xc), {0, 2, 3});
    if (batch) {
      batch->mean.push_back(t.value(mu).clone(t.stream()));
      batch->var.push_back(t.value(var).clone(t.stream()));
    }
    if (blend) {
      SP_CHECK(layer < previous->mean.size() && previous->mean[layer].numel() == C, "bn_statistics_loss: momentum "
               "statistics hold ", previous->mean.size(), " layers; layer ", name, " (", C, " channels) does not match");
      auto mix = [&](Var now, const Tensor& before) {
        return ag::add(t, ag::mul(t, now, ag::constant_like(t, now, 1 - momentum)),
                       t.leaf(scaled(t.stream(), before, momentum)));
      };
      mu = mix(mu, previous->mean[layer]);
      var = mix(var, previous->var[layer]);
    }
    Var dm = ag::sub(t, t.leaf(rm.contiguous(t.stream())), mu);
    Var dv = ag::sub(t, t.leaf(rv.contiguous(t.stream())), var);
    Var term = ag::add(t, l2_norm(t, dv), l2_norm(t, dm));
    total = total.valid() ? ag::add(t, total, term) : term;
    ++layer;
  }
  SP_CHECK(total.valid(), "bn_statistics_loss: the trace of ", teacher.config().name, " holds no batch-norm layer");
  SP_CHECK(!blend || layer == previous->mean.size(), "bn_statistics_loss: momentum statistics hold ",
           previous->mean.size(), " layers, the trace ", layer);
  return total;
}

void update_bn_momentum(Stream& s, BnStatistics& avg, const BnStatistics& batch, double momentum) {
  if (avg.empty()) {
    for (size_t i = 0; i < batch.mean.size(); ++i) {
      avg.mean.push_back(batch.mean[i].clone(s));
      avg.var.push_back(batch.var[i].clone(s));
    }
    return;
  }
  SP_CHECK(avg.mean.size() == batch.mean.size(), "update_bn_momentum: ", avg.mean.size(), " layers averaged, ",
           batch.mean.size(), " in the batch");
  for (size_t i = 0; i < batch.mean.size(); ++i) {
    axpby(s, avg.mean[i], batch.mean[i], 1 - momentum, momentum);
    axpby(s, avg.var[i], batch.var[i], 1 - momentum, momentum);
  }
}

}  // namespace sp
