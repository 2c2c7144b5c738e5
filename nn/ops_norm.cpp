// batch_norm, group_norm, instance_norm: forward through the kernels, backward closures that request only
// the gradients the tape needs (see ops_norm.h). In training mode the differentiable backward is two ops,
// norm_input_grad = r P(gy w) and norm_weight_grad = sum gy xhat, computed by the fused kernels; their own
// first-order backwards are analytic (with x viewed as [N, G, L] for group norm or [N, C, S] for batch
// norm, statistics over axes 2 or {0, 2}):
//   d<u, r P(gy w)>/dgy = w r P(u),  /dw = sum gy r P(u),
//   /dx = r P(a) - r xhat L / n  with  a = -(r / n)(gy w <u, xhat> + u <gy w, xhat>),  L = <u, r P(gy w)>,
// per statistics group of n elements (the statistics' own dependence on x), and their differentiable
// backwards build the same from tape ops, recomputing xhat and r from x, so every order is exact. Eval-mode
// batch norm is affine in x, so there the saved (running) statistics are constants.
#include "nn/ops_norm.h"

#include <vector>

#include "kernels/arg_check.h"
#include "kernels/axpby.h"
#include "kernels/batchnorm.h"
#include "kernels/elementwise.h"
#include "kernels/groupnorm.h"
#include "kernels/reduce.h"
#include "nn/op_registry.h"
#include "nn/ops_elementwise.h"
#include "nn/ops_reduce.h"
#include "nn/ops_scale.h"

namespace sp::ag {

SP_REGISTER_OP(batch_norm);
SP_REGISTER_OP(batch_norm_act);
SP_REGISTER_OP(group_norm);
SP_REGISTER_OP(group_norm_act);
SP_REGISTER_OP(instance_norm);
SP_REGISTER_OP(norm_input_grad);
SP_REGISTER_OP(norm_weight_grad);

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
  static NormLayout batch(const Shape& x, Layout l = Layout::nchw) {
    // Channels last: [N, H, W, C] as [N * H * W, C, 1].
    const Shape nc = l == Layout::nhwc ? Shape{x.numel() / std::max<int64_t>(1, x[3]), x[3], 1}
                                       : Shape{x[0], x[1], spatial(x)};
    return {x, nc, nc, {0, 2}};
  }
  static NormLayout group(const Shape& x, int64_t groups) {
    return {x, {x[0], x[1], spatial(x)}, {x[0], groups, x[1] / groups * spatial(x)}, {2}};
  }
};

// The shapes the norm-gradient ops work in: x as [N, C, S] (`chan`, where weights act per channel), as
// `grouped` (where statistics are taken, over `axes`), a statistic's shape (`stat`) and a per-channel
// broadcast shape ([1, C, 1]); `count` elements make one statistic.
struct NormGeo {
  NormLayout layout;
  Shape stat, per_channel;
  int64_t count = 1;
  NormGeo(const Shape& x, const NormStats& st)
      : layout(st.batch ? NormLayout::batch(x, st.layout) : NormLayout::group(x, st.groups)) {
    stat = layout.grouped;
    for (int a : layout.axes) {
      count *= stat[a];
      stat[a] = 1;
    }
    per_channel = {1, layout.channels[1], 1};
  }
};

// A contiguous activation as the batch-norm kernels take it: itself, or (channels last) [N * H * W, C].
Tensor kernel_view(const Tensor& t, Layout l) {
  if (l != Layout::nhwc || !t.defined()) return t;
  return t.view({t.numel() / std::max<int64_t>(1, t.size(3)), t.size(3)});
}

// r P(z w) per statistics group (w per channel, or none): the fused kernels' input gradient, written as
// out = result + beta * out.
void r_project(Stream& s, const Tensor& out, const Tensor& z, const Tensor& x, const NormStats& st, const Tensor& w,
               double beta) {
  if (st.batch) {
    BatchNormBwdArgs a;
    a.dx = kernel_view(out, st.layout);
    a.dy = kernel_view(z, st.layout);
    a.x = kernel_view(x, st.layout);
    a.save_mean = st.mean;
    a.save_invstd = st.invstd;
    a.weight = w;
    a.beta_x = beta;
    batch_norm_backward(s, a);
  } else {
    GroupNormBwdArgs a;
    a.dx = out;
    a.dy = z;
    a.x = x;
    a.save_mean = st.mean;
    a.save_invstd = st.invstd;
    a.weight = w;
    a.groups = st.groups;
    a.beta_x = beta;
    group_norm_backward(s, a);
  }
}

Tensor tensor_op(Stream& s, const Tensor& a, const Tensor& b, BinaryOp op, const Shape& shape, double alpha = 1.0) {
  Tensor out = Tensor::empty(shape, a.dtype(), s);
  binary(s, out, a, b, op, alpha, 0.0);
  return out;
}

// xhat = (x - mean) invstd, in the grouped layout, from the saved statistics.
Tensor xhat_of(Stream& s, const Tensor& x, const NormStats& st, const NormGeo& g) {
  const Shape& gs = g.layout.grouped;
  Tensor d = tensor_op(s, x.view(gs), st.mean.view(g.stat), BinaryOp::sub, gs);
  return tensor_op(s, d, st.invstd.view(g.stat), BinaryOp::mul, gs);
}

// Per-group sums of a * b (grouped layout) -> stat shape.
Tensor group_dot(Stream& s, const Tensor& a, const Tensor& b, const NormGeo& g) {
  Tensor prod = tensor_op(s, a, b, BinaryOp::mul, g.layout.grouped);
  Tensor out = Tensor::empty(g.stat, a.dtype(), s);
  sum_to_shape(s, out, prod, 1.0, 0.0);
  return out;
}

// xhat and r recomputed from x with tape ops (grouped layout; r in the stat shape): what the third-order
// path needs to differentiate the statistics.
struct XhatVars {
  Var xhat, r;
};
XhatVars xhat_vars(Tape& t, Var x, const NormGeo& g, double eps) {
  Var xg = reshaped(t, x, g.layout.grouped);
  Var d = sub(t, xg, mean(t, xg, g.layout.axes, true));
  Var r = rsqrt(t, add(t, mean(t, mul(t, d, d), g.layout.axes, true), constant_like(t, x, eps)));
  return {mul(t, d, r), r};
}

// The differentiable backward of training-mode normalisation (batch statistics, biased variance): the
// fused gradient ops, whose own backwards differentiate the statistics analytically.
// gy: the gradient at the normalisation's output (the node's own, or what passed its fused epilogue).
void normalise_diff_backward(DiffBackwardCtx& c, Var gy, const NormStats& st, int iw, int ib) {
  Tape& t = c.tape();
  const NormGeo g(t.value(c.in(0)).shape(), st);
  if (ib >= 0 && c.needs(ib)) c.add(ib, sum(t, reshaped(t, gy, g.layout.channels), {0, 2}));
  if (iw >= 0 && c.needs(iw)) c.add(iw, norm_weight_grad(t, gy, c.in(0), st));
  if (c.needs(0)) c.add(0, norm_input_grad(t, gy, c.in(0), iw >= 0 ? c.in(iw) : Var{}, st));
}

// Eval-mode batch norm, y = (x - mean) (invstd w) + b with the statistics the forward saved (the running
// ones, which a later training step may overwrite in place) as constants.
void batch_norm_eval_diff_backward(DiffBackwardCtx& c, Var grad, const NormLayout& l, const Tensor& saved_mean,
                                   const Tensor& saved_invstd, int iw, int ib) {
  Tape& t = c.tape();
  const Shape per_channel{1, l.channels[1], 1};
  Var gy = reshaped(t, grad, l.channels);
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

// The tape inputs of a norm op with a fused epilogue: NormInputs, then the residual when there is one.
struct EpilogueInputs : NormInputs {
  int residual = -1;
  EpilogueInputs(Var x, Var w, Var b, const NormEpilogue& e) : NormInputs(x, w, b) {
    if (!e.residual.valid()) return;
    residual = int(vars.size());
    vars.push_back(e.residual);
  }
};

// Where a first-order backward writes the residual's gradient: its sink or, when the sink shares memory with
// the input gradient (x and the residual are views of one buffer, or one value), a buffer of its own that
// finish() adds to the sink afterwards.
struct ResidualGrad {
  GradSink sink{Tensor(), 0.f};
  Tensor out;
  double beta = 0;
  bool apart = false;
  ResidualGrad(BackwardCtx& c, int ir, const Tensor& dx) {
    if (ir < 0 || !c.needs(ir)) return;
    sink = c.sink(ir);
    apart = memory_overlaps(sink.t, dx);
    out = apart ? Tensor::empty(sink.t.shape(), sink.t.dtype(), c.stream()) : sink.t;
    beta = apart ? 0.0 : sink.beta;
  }
  void finish(Stream& s) const {
    if (apart) axpby(s, sink.t, out, 1.0, sink.beta);
  }
};

// The differentiable backward's view of an epilogue: adds the residual's gradient and returns the gradient at
// the normalisation's output.
Var through_epilogue(DiffBackwardCtx& c, bool relu, int ir) {
  Tape& t = c.tape();
  Var gy = relu ? mul(t, c.grad_out(), relu_mask(t, c.out())) : c.grad_out();  // the mask is a constant, as relu's
  if (ir >= 0 && c.needs(ir)) c.add(ir, gy);
  return gy;
}

Var group_norm_op(Tape& t, Var x, int64_t groups, Var weight, Var bias, const NormEpilogue& epi, double eps,
                  const char* op) {
  Stream& s = t.stream();
  Tensor xv = t.value(x).contiguous(s), wv = value_or_none(t, weight), bv = value_or_none(t, bias);
  Tensor rv = value_or_none(t, epi.residual);
  channels_of(op, xv);
  SP_CHECK(groups >= 1, op, ": groups ", groups, " must be >= 1");
  SP_CHECK(!rv.defined() || rv.shape() == xv.shape(), op, ": residual ", rv.str(), " must have the input's shape ",
           xv.str());
  Tensor y = Tensor::empty(xv.shape(), xv.dtype(), s);
  Tensor mean = Tensor::empty({xv.size(0), groups}, xv.dtype(), s);
  Tensor invstd = Tensor::empty({xv.size(0), groups}, xv.dtype(), s);
  GroupNormFwdArgs a;
  a.y = y;
  a.save_mean = mean;
  a.save_invstd = invstd;
  a.x = xv;
  a.weight = wv;
  a.bias = bv;
  a.residual = rv;
  a.relu = epi.relu;
  a.groups = groups;
  a.eps = eps;
  group_norm_forward(s, a);
  EpilogueInputs in(x, weight, bias, epi);
  const bool relu = epi.relu;
  return t.record(
      op, y, in.vars,
      [xv, wv, mean, invstd, groups, relu, iw = in.weight, ib = in.bias, ir = in.residual](BackwardCtx& c) {
        Stream& s = c.stream();
        NormGrads g(c, iw, ib);
        ResidualGrad r(c, ir, g.dx);
        GroupNormBwdArgs b;
        b.dx = g.dx;
        b.dweight = g.dw;
        b.dbias = g.db;
        b.dresidual = r.out;
        b.dy = c.grad_out().contiguous(s);
        b.x = xv;
        b.save_mean = mean;
        b.save_invstd = invstd;
        b.weight = wv;
        b.y = relu ? c.out() : Tensor();
        b.relu = relu;
        b.groups = groups;
        b.beta_x = g.bx;
        b.beta_w = g.bw;
        b.beta_b = g.bb;
        b.beta_r = r.beta;
        group_norm_backward(s, b);
        r.finish(s);
      },
      [st = NormStats{false, groups, mean, invstd, eps}, relu, iw = in.weight, ib = in.bias,
       ir = in.residual](DiffBackwardCtx& c) {
        normalise_diff_backward(c, through_epilogue(c, relu, ir), st, iw, ib);
      });
}

Var batch_norm_op(Tape& t, Var x, Var weight, Var bias, const Tensor& running_mean, const Tensor& running_var,
                  bool training, const NormEpilogue& epi, double momentum, double eps, Layout l, const char* op) {
  Stream& s = t.stream();
  Tensor xv = t.value(x).contiguous(s), wv = value_or_none(t, weight), bv = value_or_none(t, bias);
  Tensor rv = value_or_none(t, epi.residual);
  SP_CHECK(l == Layout::nchw || xv.dim() == 4, op, ": channels-last input ", xv.str(), " must be [N, H, W, C]");
  SP_CHECK(!rv.defined() || rv.shape() == xv.shape(), op, ": residual ", rv.str(), " must have the input's shape ",
           xv.str());
  const int64_t C = l == Layout::nhwc ? xv.size(3) : channels_of(op, xv);
  Tensor y = Tensor::empty(xv.shape(), xv.dtype(), s);
  Tensor mean = Tensor::empty({C}, xv.dtype(), s), invstd = Tensor::empty({C}, xv.dtype(), s);
  BatchNormFwdArgs a;
  a.y = kernel_view(y, l);
  a.save_mean = mean;
  a.save_invstd = invstd;
  a.x = kernel_view(xv, l);
  a.weight = wv;
  a.bias = bv;
  a.running_mean = running_mean;
  a.running_var = running_var;
  a.residual = kernel_view(rv, l);
  a.relu = epi.relu;
  a.training = training;
  a.momentum = momentum;
  a.eps = eps;
  batch_norm_forward(s, a);
  EpilogueInputs in(x, weight, bias, epi);
  const NormLayout layout = NormLayout::batch(xv.shape(), l);
  const bool relu = epi.relu;
  return t.record(
      op, y, in.vars,
      [xv, wv, mean, invstd, training, l, relu, iw = in.weight, ib = in.bias, ir = in.residual](BackwardCtx& c) {
        Stream& s = c.stream();
        NormGrads g(c, iw, ib);
        ResidualGrad r(c, ir, g.dx);
        BatchNormBwdArgs b;
        b.dx = kernel_view(g.dx, l);
        b.dweight = g.dw;
        b.dbias = g.db;
        b.dresidual = kernel_view(r.out, l);
        b.dy = kernel_view(c.grad_out().contiguous(s), l);
        b.x = kernel_view(xv, l);
        b.save_mean = mean;
        b.save_invstd = invstd;
        b.weight = wv;
        b.y = relu ? kernel_view(c.out(), l) : Tensor();
        b.relu = relu;
        b.training = training;
        b.beta_x = g.bx;
        b.beta_w = g.bw;
        b.beta_b = g.bb;
        b.beta_r = r.beta;
        batch_norm_backward(s, b);
        r.finish(s);
      },
      [layout, mean, invstd, training, eps, l, relu, iw = in.weight, ib = in.bias, ir = in.residual](DiffBackwardCtx& c) {
        Var gy = through_epilogue(c, relu, ir);
        if (training)
          normalise_diff_backward(c, gy, NormStats{true, 1, mean, invstd, eps, l}, iw, ib);
        else
          batch_norm_eval_diff_backward(c, gy, layout, mean, invstd, iw, ib);
      });
}

}  // namespace

Var batch_norm(Tape& t, Var x, Var weight, Var bias, const Tensor& running_mean, const Tensor& running_var,
               bool training, double momentum, double eps, Layout layout) {
  return batch_norm_op(t, x, weight, bias, running_mean, running_var, training, NormEpilogue{}, momentum, eps, layout,
                       "batch_norm");
}

Var batch_norm_act(Tape& t, Var x, Var weight, Var bias, const Tensor& running_mean, const Tensor& running_var,
                   bool training, const NormEpilogue& epilogue, double momentum, double eps, Layout layout) {
  return batch_norm_op(t, x, weight, bias, running_mean, running_var, training, epilogue, momentum, eps, layout,
                       "batch_norm_act");
}

Var group_norm(Tape& t, Var x, int64_t groups, Var weight, Var bias, double eps) {
  return group_norm_op(t, x, groups, weight, bias, NormEpilogue{}, eps, "group_norm");
}

Var group_norm_act(Tape& t, Var x, int64_t groups, Var weight, Var bias, const NormEpilogue& epilogue, double eps) {
  return group_norm_op(t, x, groups, weight, bias, epilogue, eps, "group_norm_act");
}

Var instance_norm(Tape& t, Var x, Var weight, Var bias, double eps) {
  const int64_t C = channels_of("instance_norm", t.value(x));
  return group_norm_op(t, x, C, weight, bias, NormEpilogue{}, eps, "instance_norm");
}


Var norm_input_grad(Tape& t, Var gy, Var x, Var w, const NormStats& st) {
  Stream& s = t.stream();
  Tensor gv = t.value(gy).contiguous(s), xv = t.value(x).contiguous(s), wv = value_or_none(t, w);
  SP_CHECK(gv.shape() == xv.shape(), "norm_input_grad: gradient ", gv.str(), " and input ", xv.str(), " differ");
  channels_of("norm_input_grad", xv);
  SP_CHECK(st.layout == Layout::nchw || xv.dim() == 4, "norm_input_grad: channels-last input ", xv.str(),
           " must be [N, H, W, C]");
  const NormGeo g(xv.shape(), st);
  Tensor gx = Tensor::empty(xv.shape(), xv.dtype(), s);
  r_project(s, gx, gv, xv, st, wv, 0.0);
  std::vector<Var> ins{gy, x};
  if (w.valid()) ins.push_back(w);
  return t.record(
      "norm_input_grad", gx, ins,
      [gv, xv, wv, gx, st, g](BackwardCtx& c) {
        Stream& s = c.stream();
        const Tensor u = c.grad_out().contiguous(s);
        const Shape& chan = g.layout.channels;
        const bool need_w = wv.defined() && c.needs(2);
        if (c.needs(0) || need_w) {
          Tensor rpu = Tensor::empty(xv.shape(), xv.dtype(), s);  // r P(u): the map gy -> gx is r P(. w)
          r_project(s, rpu, u, xv, st, Tensor(), 0.0);
          if (c.needs(0)) {
            GradSink d = c.sink(0);
            if (wv.defined())
              binary(s, d.t.view(chan), rpu.view(chan), wv.view(g.per_channel), BinaryOp::mul, 1.0, d.beta);
            else
              axpby(s, d.t, rpu, 1.0, d.beta);
          }
          if (need_w) {
            GradSink d = c.sink(2);
            sum_to_shape(s, d.t.view(g.per_channel), tensor_op(s, gv.view(chan), rpu.view(chan), BinaryOp::mul, chan),
                         1.0, d.beta);
          }
        }
        if (!c.needs(1)) return;
        // d<u, gx>/dx = r P(a) - r xhat L / count, with a = -(r / count) (h Ux + u Hx), h = gy w and the
        // per-group sums Ux = <u, xhat>, Hx = <h, xhat>, L = <u, gx> (the statistics' dependence on x).
        const Shape& gs = g.layout.grouped;
        Tensor xhat = xhat_of(s, xv, st, g);
        Tensor h = wv.defined() ? tensor_op(s, gv.view(chan), wv.view(g.per_channel), BinaryOp::mul, chan) : gv;
        Tensor ug = u.view(gs), hg = h.view(gs);
        Tensor Ux = group_dot(s, ug, xhat, g), Hx = group_dot(s, hg, xhat, g), L = group_dot(s, ug, gx.view(gs), g);
        Tensor a = tensor_op(s, hg, Ux, BinaryOp::mul, gs);
        binary(s, a, ug, Hx, BinaryOp::mul, 1.0, 1.0);
        Tensor ra = tensor_op(s, a, st.invstd.view(g.stat), BinaryOp::mul, gs, -1.0 / double(g.count));
        Tensor rpa = Tensor::empty(xv.shape(), xv.dtype(), s);
        r_project(s, rpa, ra.view(xv.shape()), xv, st, Tensor(), 0.0);
        Tensor xl = tensor_op(s, xhat, L, BinaryOp::mul, gs);
        Tensor corr = tensor_op(s, xl, st.invstd.view(g.stat), BinaryOp::mul, gs, 1.0 / double(g.count));
        GradSink d = c.sink(1);
        binary(s, d.t.view(gs), rpa.view(gs), corr, BinaryOp::sub, 1.0, d.beta);
      },
      [st, g, has_w = w.valid()](DiffBackwardCtx& c) {
        Tape& t = c.tape();
        const Shape& chan = g.layout.channels;
        const Shape x_shape = t.value(c.in(1)).shape();
        Var u = c.grad_out(), x = c.in(1);
        Var wb = has_w ? reshaped(t, c.in(2), g.per_channel) : Var{};
        if (c.needs(0) || (has_w && c.needs(2))) {
          Var rpu = reshaped(t, norm_input_grad(t, u, x, Var{}, st), chan);
          if (c.needs(0)) c.add(0, reshaped(t, has_w ? mul(t, rpu, wb) : rpu, x_shape));
          if (has_w && c.needs(2)) c.add(2, sum(t, mul(t, reshaped(t, c.in(0), chan), rpu), {0, 2}));
        }
        if (!c.needs(1)) return;
        const Shape& gs = g.layout.grouped;
        const std::vector<int>& ax = g.layout.axes;
        XhatVars xv = xhat_vars(t, x, g, st.eps);
        Var h = reshaped(t, c.in(0), chan);
        if (has_w) h = mul(t, h, wb);
        Var hg = reshaped(t, h, gs), ug = reshaped(t, u, gs);
        Var Ux = sum(t, mul(t, ug, xv.xhat), ax, true), Hx = sum(t, mul(t, hg, xv.xhat), ax, true);
        Var L = sum(t, mul(t, ug, reshaped(t, c.out(), gs)), ax, true);
        Var a = scale(t, mul(t, xv.r, add(t, mul(t, hg, Ux), mul(t, ug, Hx))), -1.0 / double(g.count));
        Var rpa = reshaped(t, norm_input_grad(t, reshaped(t, a, x_shape), x, Var{}, st), gs);
        Var corr = scale(t, mul(t, mul(t, xv.xhat, L), xv.r), 1.0 / double(g.count));
        c.add(1, reshaped(t, sub(t, rpa, corr), x_shape));
      });
}

Var norm_weight_grad(Tape& t, Var gy, Var x, const NormStats& st) {
  Stream& s = t.stream();
  Tensor gv = t.value(gy).contiguous(s), xv = t.value(x).contiguous(s);
  SP_CHECK(gv.shape() == xv.shape(), "norm_weight_grad: gradient ", gv.str(), " and input ", xv.str(), " differ");
  channels_of("norm_weight_grad", xv);
  SP_CHECK(st.layout == Layout::nchw || xv.dim() == 4, "norm_weight_grad: channels-last input ", xv.str(),
           " must be [N, H, W, C]");
  const NormGeo g(xv.shape(), st);
  const int64_t C = g.layout.channels[1];
  // sum over N, * of gy xhat, from xhat in the channel layout.
  Tensor xhat = xhat_of(s, xv, st, g);
  Tensor gw = Tensor::empty({C}, xv.dtype(), s);
  sum_to_shape(s, gw.view(g.per_channel),
               tensor_op(s, gv.view(g.layout.channels), xhat.view(g.layout.channels), BinaryOp::mul, g.layout.channels),
               1.0, 0.0);
  return t.record(
      "norm_weight_grad", gw, {gy, x},
      [gv, xv, st, g](BackwardCtx& c) {
        Stream& s = c.stream();
        const Tensor u = c.grad_out().contiguous(s);
        if (c.needs(0)) {  // xhat u per channel
          GradSink d = c.sink(0);
          const Shape& chan = g.layout.channels;
          binary(s, d.t.view(chan), xhat_of(s, xv, st, g).view(chan), u.view(g.per_channel), BinaryOp::mul, 1.0,
                 d.beta);
        }
        if (c.needs(1)) {  // d/dx sum gy u xhat = r P(gy u)
          GradSink d = c.sink(1);
          r_project(s, d.t, gv, xv, st, u, d.beta);
        }
      },
      [st, g](DiffBackwardCtx& c) {
        Tape& t = c.tape();
        const Shape x_shape = t.value(c.in(1)).shape();
        if (c.needs(0)) {
          XhatVars xv = xhat_vars(t, c.in(1), g, st.eps);
          Var ub = reshaped(t, c.grad_out(), g.per_channel);
          c.add(0, reshaped(t, mul(t, reshaped(t, xv.xhat, g.layout.channels), ub), x_shape));
        }
        if (c.needs(1)) c.add(1, norm_input_grad(t, c.in(0), c.in(1), c.grad_out(), st));
      });
}

}  // namespace sp::ag
