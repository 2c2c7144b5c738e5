// Per-example gradients from traced layers (see per_sample_grad.h).
#include "paradigms/dpsgd/per_sample_grad.h"

#include <algorithm>

#include "kernels/dp_sgd.h"
#include "kernels/elementwise.h"
#include "kernels/groupnorm.h"
#include "kernels/matmul.h"
#include "kernels/reduce.h"
#include "kernels/unfold.h"
#include "nn/layer_trace.h"
#include "nn/ops_loss.h"

namespace sp::dpsgd {

namespace {

Tensor param_view(const Tensor& theta, int64_t offset, const Shape& shape) {
  return theta.narrow(0, offset, shape.numel()).view(shape);
}

// Per-example sums of t [K*B, C, rest...] over copies and positions: [B, C].
Tensor per_example_channel_sums(Stream& s, const Tensor& t, int64_t copies) {
  const int64_t n = t.size(0), b = n / copies, c = t.size(1), rest = t.numel() / std::max<int64_t>(n * c, 1);
  Tensor out = Tensor::empty({b, c, 1}, t.dtype(), s);
  sum_to_shape(s, out, t.view({copies, b, c, rest}));
  return out.view({b, c});
}

}  // namespace

void check_dp_model(const Model& model) {
  SP_CHECK(!model.has_batch_norm(), "DP-SGD: model ", model.config().name,
           " uses batch norm, whose per-sample gradients are undefined (each sample's output depends on the whole "
           "batch); use a group-norm model (wrn16_4, resnet18_gn)");
}

PerSampleGrads::PerSampleGrads(const Model& model) : model_(model) { check_dp_model(model); }

void PerSampleGrads::compute(Stream& s, const Tensor& theta, const Tensor& buffers, const Tensor& x,
                             const Tensor& labels, int64_t copies, double label_smoothing) {
  SP_CHECK(copies >= 1 && x.dim() == 4 && x.size(0) % copies == 0 && x.size(0) > 0,
           "PerSampleGrads: input ", x.str(), " is not ", copies, " copies of a non-empty batch");
  const int64_t B = x.size(0) / copies, P = model_.params().numel();
  examples_ = B;
  blocks_.clear();

  Tape t(s);
  std::vector<TracedLayer> layers;
  Var logits, loss;
  {
    LayerTrace trace;
    Var th = t.leaf(theta, false);  // theta is not differentiated: only activations need gradients
    logits = model_.forward(t, th, buffers, t.leaf(x, true), true);
    layers = trace.layers();
  }
  loss = ag::cross_entropy(t, logits, labels, label_smoothing);
  logits_ = t.value(logits);
  loss_ = t.value(loss);

  // The parameter tensors the trace saw must tile theta exactly, or some gradient would be missed.
  std::vector<std::pair<int64_t, int64_t>> ranges;
  for (const TracedLayer& l : layers) {
    SP_CHECK(l.kind != TracedLayer::Kind::batch_norm, "PerSampleGrads: model ", model_.config().name,
             " applied batch norm");
    ranges.push_back({l.weight_offset, l.weight_shape.numel()});
    if (l.bias_offset >= 0) ranges.push_back({l.bias_offset, l.bias_shape.numel()});
  }
  std::sort(ranges.begin(), ranges.end());
  int64_t covered = 0;
  for (auto [off, n] : ranges) {
    SP_CHECK(off == covered, "PerSampleGrads: model ", model_.config().name, " has parameters at [", covered, ", ",
             off, ") outside its traced layers, or shares a parameter tensor between layers");
    covered += n;
  }
  SP_CHECK(covered == P, "PerSampleGrads: traced layers cover ", covered, " of ", P, " parameters of ",
           model_.config().name);

  // Loss seeded with B: d(B * mean over K*B samples)/d(sample) = 1/K, so summing a layer's per-sample terms
  // over an example's K copies gives the mean over its copies.
  std::vector<Var> outs;
  for (const TracedLayer& l : layers) outs.push_back(l.y);
  Tensor seed = Tensor::full(loss_.shape(), double(B), loss_.dtype(), s);
  std::vector<Tensor> dys = t.grad(loss, outs, &seed);

  for (size_t i = 0; i < layers.size(); ++i) {
    const TracedLayer& l = layers[i];
    const Tensor xv = t.value(l.x).contiguous(s), dy = dys[i].contiguous(s);
    dys[i] = Tensor();  // freed with this iteration
    const int64_t nw = l.weight_shape.numel();
    Tensor gw = Tensor::empty({B, nw}, theta.dtype(), s), gb;
    switch (l.kind) {
      case TracedLayer::Kind::conv: {
        // One strided-batched GEMM per copy, accumulating: g_e += dY[k*B+e] [O, OH*OW] x unfold(x[k*B+e])^T.
        Conv2dGeom g = conv2d_geometry(xv, param_view(theta, l.weight_offset, l.weight_shape), l.conv);
        Tensor u = Tensor::empty(unfold_shape(g), xv.dtype(), s);
        unfold(s, u, xv, g);
        const int64_t rows = u.size(1), plane = u.size(2);
        Tensor dyk = dy.view({copies, B, g.o, plane}), uk = u.view({copies, B, rows, plane});
        for (int64_t k = 0; k < copies; ++k)
          gemm(s, gw.view({B, g.o, rows}), dyk.select(0, k), uk.select(0, k), false, true, 1.0, k ? 1.0 : 0.0,
               "per-sample conv weight");
        if (l.bias_offset >= 0) gb = per_example_channel_sums(s, dy, copies);
        break;
      }
      case TracedLayer::Kind::linear: {
        // Batched outer products, one GEMM per copy: g_e += dY[k*B+e]^T [out, 1] x x[k*B+e] [1, in].
        const int64_t out = dy.size(1), in = xv.size(1);
        Tensor dyk = dy.view({copies, B, 1, out}), xk = xv.view({copies, B, 1, in});
        for (int64_t k = 0; k < copies; ++k)
          gemm(s, gw.view({B, out, in}), dyk.select(0, k), xk.select(0, k), true, false, 1.0, k ? 1.0 : 0.0,
               "per-sample linear weight");
        gb = per_example_channel_sums(s, dy, copies);
        break;
      }
      case TracedLayer::Kind::group_norm: {
        const int64_t n = xv.size(0);
        Tensor xhat = Tensor::empty(xv.shape(), xv.dtype(), s);
        Tensor mean = Tensor::empty({n, l.groups}, xv.dtype(), s), invstd = Tensor::empty({n, l.groups}, xv.dtype(), s);
        GroupNormFwdArgs a;
        a.y = xhat;
        a.save_mean = mean;
        a.save_invstd = invstd;
        a.x = xv;
        a.groups = l.groups;
        a.eps = l.eps;
        group_norm_forward(s, a);
        Tensor prod = Tensor::empty(xv.shape(), xv.dtype(), s);
        binary(s, prod, xhat, dy, BinaryOp::mul);
        gw = per_example_channel_sums(s, prod, copies);
        gb = per_example_channel_sums(s, dy, copies);
        break;
      }
      case TracedLayer::Kind::batch_norm:
        break;  // refused above
    }
    blocks_.push_back({l.weight_offset, gw});
    if (gb.defined()) blocks_.push_back({l.bias_offset, gb});
  }

  sq_norms_ = Tensor::empty({B}, theta.dtype(), s);
  for (size_t i = 0; i < blocks_.size(); ++i) row_sq_norm(s, sq_norms_, blocks_[i].g, i == 0 ? 0.0 : 1.0);
}

void PerSampleGrads::accumulate(Stream& s, const Tensor& acc, const Tensor& weights) const {
  SP_CHECK(weights.dim() == 1 && weights.size(0) == examples_, "PerSampleGrads::accumulate: weights ", weights.str(),
           " for ", examples_, " examples");
  SP_CHECK(acc.dim() == 1 && acc.numel() == model_.params().numel(), "PerSampleGrads::accumulate: acc ", acc.str(),
           " must be [", model_.params().numel(), "]");
  Tensor w = weights.view({1, examples_});
  // The clip factors bound each f_e g_e in full fp32 (kernels/dp_sgd_math.h); TF32 would round f_e and g_e
  // to 11 significant bits first and let a clipped contribution exceed C by up to 1e-3 relative.
  Tf32Guard full_fp32(s, false);
  for (const Block& b : blocks_) {
    const int64_t n = b.g.size(1);
    gemm(s, acc.narrow(0, b.offset, n).view({1, n}), w, b.g, false, false, 1.0, 1.0, "clipped gradient sum");
  }
}

Tensor PerSampleGrads::dense(Stream& s) const {
  Tensor out = Tensor::zeros({examples_, model_.params().numel()}, sq_norms_.dtype(), s);
  for (const Block& b : blocks_) out.narrow(1, b.offset, b.g.size(1)).copy_(b.g, s);
  return out;
}

}  // namespace sp::dpsgd
