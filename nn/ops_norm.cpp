// batch_norm, group_norm, instance_norm: forward through the kernels, backward closures that request only
// the gradients the tape needs (see ops_norm.h). The differentiable backward recomputes the statistics from
// x with tape ops instead of reusing the saved ones, since in training mode they depend on x and their
// derivatives are part of the second order; with x viewed as [N, G, L] (group norm) or [N, C, S] (batch
// norm, statistics over axes 0 and 2) it is gx = rstd (gxhat - mean(gxhat) - xhat mean(gxhat xhat)),
// gxhat = gy w. Eval-mode batch norm is affine in x, so there the saved (running) statistics are constants.
#include "nn/ops_norm.h"

#include <vector>

#include "kernels/batchnorm.h"
#include "kernels/groupnorm.h"
#include "nn/op_registry.h"
#include "nn/ops_elementwise.h"
#include "nn/ops_reduce.h"
#include "nn/ops_scale.h"

namespace sp::ag {

SP_REGISTER_OP(batch_norm);
SP_REGISTER_OP(group_norm);
SP_REGISTER_OP(instance_norm);

namespace {

// Tape inputs of a norm op: x first, then weight and bias when present (their positions, or -1).
struct NormInputs {
  std::vector<Var> vars;
  int weight = -1, bias = -1;
  NormInputs(Var x, Var w, Var b) : vars{x} {
    if (w.valid()) {
      weight = int(vars.size());
      vars.push_back(w);
    }
    if (b.valid()) {
      bias = int(vars.size());
      vars.push_back(b);
    }
  }
};

Tensor value_or_none(Tape& t, Var v) { return v.valid() ? t.value(v).contiguous(t.stream()) : Tensor(); }

// The requested gradient buffers of one backward call (undefined where not needed).
struct NormGrads {
  Tensor dx, dw, db;
  double bx = 0, bw = 0, bb = 0;
  NormGrads(BackwardCtx& c, int iw, int ib) {
    if (c.needs(0)) take(c, 0, dx, bx);
    if (iw >= 0 && c.needs(iw)) take(c, iw, dw, bw);
    if (ib >= 0 && c.needs(ib)) take(c, ib, db, bb);
  }
  static void take(BackwardCtx& c, int i, Tensor& t, double& beta) {
    GradSink g = c.sink(i);
    t = g.t;
    beta = g.beta;
  }
};

int64_t channels_of(const char* op, const Tensor& x) {
  SP_CHECK(x.dim() >= 2, op, ": input ", x.str(), " must be [N, C, *]");
  return x.size(1);
}

// v with another shape. Tape::reshape aliases contiguous values only, so a strided v (a transposed input,
// a user's seed) is first copied by an identity op, which keeps it differentiable.
Var reshaped(Tape& t, Var v, const Shape& shape) {
  if (!t.value(v).is_contiguous()) v = scale(t, v, 1.0);
  return t.reshape(v, shape);
}

// How the differentiable backward views x: `channels` [N, C, S] (S the product of the trailing dims) is
// where weight and bias act; `grouped` is where the statistics are taken, over `axes`.
struct NormLayout {
  Shape x, channels, grouped;
  std::vector<int> axes;
  static int64_t spatial(const Shape& x) {  // not numel / (N C): N or C may be 0
    int64_t S = 1;
    for (int d = 2; d < x.size(); ++d) S *= x[d];
    return S;
  }
  static NormLayout batch(const Shape& x) {
    const Shape nc{x[0], x[1], spatial(x)};
    return {x, nc, nc, {0, 2}};
  }
  static NormLayout group(const Shape& x, int64_t groups) {
    return {x, {x[0], x[1], spatial(x)}, {x[0], groups, x[1] / groups * spatial(x)}, {2}};
  }
};

// The differentiable backward of training-mode normalisation (batch statistics, biased variance).
void normalise_diff_backward(DiffBackwardCtx& c, const NormLayout& l, int iw, int ib, double eps) {
  Tape& t = c.tape();
  const bool need_w = iw >= 0 && c.needs(iw), need_b = ib >= 0 && c.needs(ib);
  Var gy = reshaped(t, c.grad_out(), l.channels);
  if (need_b) c.add(ib, sum(t, gy, {0, 2}));
  if (!c.needs(0) && !need_w) return;
  Var x = reshaped(t, c.in(0), l.grouped);
  Var d = sub(t, x, mean(t, x, l.axes, true));
  Var rstd = rsqrt(t, add(t, mean(t, mul(t, d, d), l.axes, true), constant_like(t, x, eps)));
  Var xhat = mul(t, d, rstd);
  if (need_w) c.add(iw, sum(t, mul(t, gy, reshaped(t, xhat, l.channels)), {0, 2}));
  if (!c.needs(0)) return;
  Var gxhat = iw >= 0 ? mul(t, gy, reshaped(t, c.in(iw), {1, l.channels[1], 1})) : gy;
  gxhat = reshaped(t, gxhat, l.grouped);
  Var centred = sub(t, gxhat, mean(t, gxhat, l.axes, true));
  Var gx = mul(t, rstd, sub(t, centred, mul(t, xhat, mean(t, mul(t, gxhat, xhat), l.axes, true))));
  c.add(0, reshaped(t, gx, l.x));
}

// Eval-mode batch norm, y = (x - mean) (invstd w) + b with the statistics the forward saved (the running
// ones, which a later training step may overwrite in place) as constants.
void batch_norm_eval_diff_backward(DiffBackwardCtx& c, const NormLayout& l, const Tensor& saved_mean,
                                   const Tensor& saved_invstd, int iw, int ib) {
  Tape& t = c.tape();
  const Shape per_channel{1, l.channels[1], 1};
  Var gy = reshaped(t, c.grad_out(), l.channels);
  Var k = t.leaf(saved_invstd.view(per_channel));
  if (ib >= 0 && c.needs(ib)) c.add(ib, sum(t, gy, {0, 2}));
  if (iw >= 0 && c.needs(iw)) {
    Var xhat = mul(t, sub(t, reshaped(t, c.in(0), l.channels), t.leaf(saved_mean.view(per_channel))), k);
    c.add(iw, sum(t, mul(t, gy, xhat), {0, 2}));
  }
  if (c.needs(0)) {
    Var gain = iw >= 0 ? mul(t, reshaped(t, c.in(iw), per_channel), k) : k;
    c.add(0, reshaped(t, mul(t, gy, gain), l.x));
  }
}

Var group_norm_op(Tape& t, Var x, int64_t groups, Var weight, Var bias, double eps, const char* op) {
  Stream& s = t.stream();
  Tensor xv = t.value(x).contiguous(s), wv = value_or_none(t, weight), bv = value_or_none(t, bias);
  channels_of(op, xv);
  SP_CHECK(groups >= 1, op, ": groups ", groups, " must be >= 1");
  Tensor y = Tensor::empty(xv.shape(), xv.dtype(), s);
  Tensor mean = Tensor::empty({xv.size(0), groups}, xv.dtype(), s);
  Tensor invstd = Tensor::empty({xv.size(0), groups}, xv.dtype(), s);
  group_norm_forward(s, y, mean, invstd, xv, wv, bv, groups, eps);
  NormInputs in(x, weight, bias);
  const NormLayout layout = NormLayout::group(xv.shape(), groups);
  return t.record(
      op, y, in.vars,
      [xv, wv, mean, invstd, groups, iw = in.weight, ib = in.bias](BackwardCtx& c) {
        NormGrads g(c, iw, ib);
        group_norm_backward(c.stream(), g.dx, g.dw, g.db, c.grad_out().contiguous(c.stream()), xv, mean, invstd, wv,
                            groups, g.bx, g.bw, g.bb);
      },
      [layout, eps, iw = in.weight, ib = in.bias](DiffBackwardCtx& c) {
        normalise_diff_backward(c, layout, iw, ib, eps);
      });
}

}  // namespace

Var batch_norm(Tape& t, Var x, Var weight, Var bias, const Tensor& running_mean, const Tensor& running_var,
               bool training, double momentum, double eps) {
  Stream& s = t.stream();
  Tensor xv = t.value(x).contiguous(s), wv = value_or_none(t, weight), bv = value_or_none(t, bias);
  const int64_t C = channels_of("batch_norm", xv);
  Tensor y = Tensor::empty(xv.shape(), xv.dtype(), s);
  Tensor mean = Tensor::empty({C}, xv.dtype(), s), invstd = Tensor::empty({C}, xv.dtype(), s);
  batch_norm_forward(s, y, mean, invstd, xv, wv, bv, running_mean, running_var, training, momentum, eps);
  NormInputs in(x, weight, bias);
  const NormLayout layout = NormLayout::batch(xv.shape());
  return t.record(
      "batch_norm", y, in.vars,
      [xv, wv, mean, invstd, training, iw = in.weight, ib = in.bias](BackwardCtx& c) {
        NormGrads g(c, iw, ib);
        batch_norm_backward(c.stream(), g.dx, g.dw, g.db, c.grad_out().contiguous(c.stream()), xv, mean, invstd, wv,
                            training, g.bx, g.bw, g.bb);
      },
      [layout, mean, invstd, training, eps, iw = in.weight, ib = in.bias](DiffBackwardCtx& c) {
        if (training)
          normalise_diff_backward(c, layout, iw, ib, eps);
        else
          batch_norm_eval_diff_backward(c, layout, mean, invstd, iw, ib);
      });
}

Var group_norm(Tape& t, Var x, int64_t groups, Var weight, Var bias, double eps) {
  return group_norm_op(t, x, groups, weight, bias, eps, "group_norm");
}

Var instance_norm(Tape& t, Var x, Var weight, Var bias, double eps) {
  const int64_t C = channels_of("instance_norm", t.value(x));
  return group_norm_op(t, x, C, weight, bias, eps, "instance_norm");
}

}  // namespace sp::ag
