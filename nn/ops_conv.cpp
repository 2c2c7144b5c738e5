// conv2d and pooling ops (see ops_conv.h). conv2d first-order backward: dx by backward-data, dw by
// backward-filter, dbias by a per-channel sum; each only when needed, accumulating into its sink with beta.
// The differentiable backwards use the same kernels through the adjoint ops, so first- and second-order
// sweeps compute identical first derivatives.
#include "nn/ops_conv.h"

#include "kernels/axpby.h"
#include "kernels/bias.h"
#include "nn/op_registry.h"
#include "nn/ops_elementwise.h"
#include "nn/ops_reduce.h"
#include "nn/ops_scale.h"

namespace sp::ag {

SP_REGISTER_OP(conv2d);
SP_REGISTER_OP(conv2d_input_grad);
SP_REGISTER_OP(conv2d_weight_grad);
SP_REGISTER_OP(max_pool2d);
SP_REGISTER_OP(max_pool2d_grad);
SP_REGISTER_OP(max_pool2d_gather);
SP_REGISTER_OP(avg_pool2d);
SP_REGISTER_OP(avg_pool2d_grad);
SP_REGISTER_OP(global_avg_pool);

namespace {

// Runs a kernel that writes `out = result + beta * out` into a sink, for kernels without a beta argument.
template <class F>
void write_sink(Stream& s, const GradSink& g, F&& kernel) {
  if (g.beta == 0.0f) {
    kernel(g.t);
    return;
  }
  Tensor tmp = Tensor::empty(g.t.shape(), g.t.dtype(), s);
  kernel(tmp);
  axpby(s, g.t, tmp, 1.0, 1.0);
}

// conv2d with no bias on a known geometry (the differentiable backwards' forward convolution).
Var conv2d_geom(Tape& t, Var x, Var w, const Conv2dGeom& g);

void check_shape(const char* op, const char* what, const Tensor& v, const Shape& want) {
  SP_CHECK(v.shape() == want, op, ": ", what, " ", v.str(), " does not match the geometry's ", want);
}

// A contiguous conv output with its channels on axis 1, as the bias kernels take it: itself (NCHW) or
// viewed as [N * OH * OW, O] (NHWC).
Tensor channels_second(const Tensor& y, const Conv2dGeom& g) {
  return g.layout == Layout::nhwc ? y.view({g.n * g.oh * g.ow, g.o}) : y;
}

}  // namespace

Var conv2d(Tape& t, Var x, Var w, Var bias, const Conv2dParams& p) {
  Stream& s = t.stream();
  Tensor xv = t.value(x).contiguous(s), wv = t.value(w).contiguous(s);
  Conv2dGeom g = conv2d_geometry(xv, wv, p);
  Tensor bv;
  if (bias.valid()) {
    bv = t.value(bias).contiguous(s);
    SP_CHECK(bv.dim() == 1 && bv.size(0) == g.o, "conv2d: bias ", bv.shape(), " does not match weight ",
             wv.shape());
  }
  Tensor y = Tensor::empty(g.y_shape(), xv.dtype(), s);
  conv2d_forward(s, y, xv, wv, g);
  if (bv.defined()) channel_bias_add(s, channels_second(y, g), bv, "conv2d");

  auto backward = [xv, wv, g, has_bias = bias.valid()](BackwardCtx& ctx) {
    Stream& s = ctx.stream();
    Tensor gy = ctx.grad_out().contiguous(s);
    if (ctx.needs(0)) {
      GradSink d = ctx.sink(0);
      conv2d_backward_data(s, d.t, gy, wv, g, d.beta);
    }
    if (ctx.needs(1)) {
      GradSink d = ctx.sink(1);
      conv2d_backward_filter(s, d.t, gy, xv, g, d.beta);
    }
    if (has_bias && ctx.needs(2)) {
      GradSink d = ctx.sink(2);
      channel_bias_grad(s, d.t, channels_second(gy, g), d.beta, "conv2d backward");
    }
  };
  auto diff_backward = [g, has_bias = bias.valid()](DiffBackwardCtx& c) {
    Tape& t = c.tape();
    if (c.needs(0)) c.add(0, conv2d_input_grad(t, c.grad_out(), c.in(1), g));
    if (c.needs(1)) c.add(1, conv2d_weight_grad(t, c.grad_out(), c.in(0), g));
    if (has_bias && c.needs(2))
      c.add(2, sum(t, c.grad_out(), g.layout == Layout::nhwc ? std::vector<int>{0, 1, 2} : std::vector<int>{0, 2, 3}));
  };
  if (bias.valid()) return t.record("conv2d", y, {x, w, bias}, backward, diff_backward);
  return t.record("conv2d", y, {x, w}, backward, diff_backward);
}

namespace {
Var conv2d_geom(Tape& t, Var x, Var w, const Conv2dGeom& g) {
  Stream& s = t.stream();
  Tensor xv = t.value(x).contiguous(s), wv = t.value(w).contiguous(s);
  check_shape("conv2d", "input", xv, g.x_shape());
  check_shape("conv2d", "weight", wv, g.w_shape());
  Conv2dParams p;
  p.stride = {g.sh, g.sw};
  p.padding = {g.ph, g.pw};
  p.dilation = {g.dh, g.dw};
  p.groups = g.groups;
  p.layout = g.layout;
  return conv2d(t, x, w, Var{}, p);
}
}  // namespace

Var conv2d_input_grad(Tape& t, Var gy, Var w, const Conv2dGeom& g) {
  Stream& s = t.stream();
  Tensor gv = t.value(gy).contiguous(s), wv = t.value(w).contiguous(s);
  check_shape("conv2d_input_grad", "output gradient", gv, g.y_shape());
  check_shape("conv2d_input_grad", "weight", wv, g.w_shape());
  Tensor dx = Tensor::empty(g.x_shape(), gv.dtype(), s);
  conv2d_backward_data(s, dx, gv, wv, g, 0.0);
  // <u, B(gy, w)> = <conv(u, w), gy> = <w, W(gy, u)>.
  return t.record(
      "conv2d_input_grad", dx, {gy, w},
      [gv, wv, g](BackwardCtx& c) {
        Stream& s = c.stream();
        Tensor u = c.grad_out().contiguous(s);
        if (c.needs(0)) write_sink(s, c.sink(0), [&](const Tensor& o) { conv2d_forward(s, o, u, wv, g); });
        if (c.needs(1)) {
          GradSink d = c.sink(1);
          conv2d_backward_filter(s, d.t, gv, u, g, d.beta);
        }
      },
      [g](DiffBackwardCtx& c) {
        Tape& t = c.tape();
        if (c.needs(0)) c.add(0, conv2d_geom(t, c.grad_out(), c.in(1), g));
        if (c.needs(1)) c.add(1, conv2d_weight_grad(t, c.in(0), c.grad_out(), g));
      });
}

Var conv2d_weight_grad(Tape& t, Var gy, Var x, const Conv2dGeom& g) {
  Stream& s = t.stream();
  Tensor gv = t.value(gy).contiguous(s), xv = t.value(x).contiguous(s);
  check_shape("conv2d_weight_grad", "output gradient", gv, g.y_shape());
  check_shape("conv2d_weight_grad", "input", xv, g.x_shape());
  Tensor dw = Tensor::empty(g.w_shape(), gv.dtype(), s);
  conv2d_backward_filter(s, dw, gv, xv, g, 0.0);
  // <u, W(gy, x)> = <conv(x, u), gy> = <x, B(gy, u)>.
  return t.record(
      "conv2d_weight_grad", dw, {gy, x},
      [gv, xv, g](BackwardCtx& c) {
        Stream& s = c.stream();
        Tensor u = c.grad_out().contiguous(s);
        if (c.needs(0)) write_sink(s, c.sink(0), [&](const Tensor& o) { conv2d_forward(s, o, xv, u, g); });
        if (c.needs(1)) {
          GradSink d = c.sink(1);
          conv2d_backward_data(s, d.t, gv, u, g, d.beta);
        }
      },
      [g](DiffBackwardCtx& c) {
        Tape& t = c.tape();
        if (c.needs(0)) c.add(0, conv2d_geom(t, c.in(1), c.grad_out(), g));
        if (c.needs(1)) c.add(1, conv2d_input_grad(t, c.in(0), c.grad_out(), g));
      });
}

namespace {
Pool2dGeom pool_geometry(const char* op, const Tensor& x, const Pool2dOptions& o) {
  Hw stride = o.stride;
  if (stride.h == 0) stride.h = o.kernel.h;
  if (stride.w == 0) stride.w = o.kernel.w;
  return pool2d_geometry(op, x, o.kernel, stride, o.padding, o.layout);
}
}  // namespace

Var max_pool2d(Tape& t, Var x, const Pool2dOptions& o) {
  Stream& s = t.stream();
  Tensor xv = t.value(x).contiguous(s);
  Pool2dGeom g = pool_geometry("max_pool2d", xv, o);
  Tensor y = Tensor::empty(pool_out_shape(g), xv.dtype(), s);
  Tensor arg = Tensor::empty(y.shape(), DType::i32, s);
  max_pool2d_forward(s, y, arg, xv, g);
  return t.record(
      "max_pool2d", y, {x},
      [arg, g](BackwardCtx& ctx) {
        if (!ctx.needs(0)) return;
        GradSink d = ctx.sink(0);
        max_pool2d_backward(ctx.stream(), d.t, ctx.grad_out().contiguous(ctx.stream()), arg, g, d.beta);
      },
      [arg, g](DiffBackwardCtx& c) { c.add(0, max_pool2d_grad(c.tape(), c.grad_out(), arg, g)); });
}

Var max_pool2d_grad(Tape& t, Var gy, const Tensor& arg, const Pool2dGeom& g) {
  Stream& s = t.stream();
  Tensor gv = t.value(gy).contiguous(s);
  check_shape("max_pool2d_grad", "output gradient", gv, pool_out_shape(g));
  Tensor dx = Tensor::empty(pool_in_shape(g), gv.dtype(), s);
  max_pool2d_backward(s, dx, gv, arg, g, 0.0);
  return t.record(
      "max_pool2d_grad", dx, {gy},
      [arg, g](BackwardCtx& c) {
        if (!c.needs(0)) return;
        Stream& s = c.stream();
        Tensor u = c.grad_out().contiguous(s);
        write_sink(s, c.sink(0), [&](const Tensor& o) { sp::max_pool2d_gather(s, o, u, arg, g); });
      },
      [arg, g](DiffBackwardCtx& c) { c.add(0, max_pool2d_gather(c.tape(), c.grad_out(), arg, g)); });
}

Var max_pool2d_gather(Tape& t, Var x, const Tensor& arg, const Pool2dGeom& g) {
  Stream& s = t.stream();
  Tensor xv = t.value(x).contiguous(s);
  check_shape("max_pool2d_gather", "input", xv, pool_in_shape(g));
  Tensor y = Tensor::empty(pool_out_shape(g), xv.dtype(), s);
  sp::max_pool2d_gather(s, y, xv, arg, g);
  return t.record(
      "max_pool2d_gather", y, {x},
      [arg, g](BackwardCtx& c) {
        if (!c.needs(0)) return;
        GradSink d = c.sink(0);
        max_pool2d_backward(c.stream(), d.t, c.grad_out().contiguous(c.stream()), arg, g, d.beta);
      },
      [arg, g](DiffBackwardCtx& c) { c.add(0, max_pool2d_grad(c.tape(), c.grad_out(), arg, g)); });
}

Var avg_pool2d(Tape& t, Var x, const Pool2dOptions& o) {
  Stream& s = t.stream();
  Tensor xv = t.value(x).contiguous(s);
  Pool2dGeom g = pool_geometry("avg_pool2d", xv, o);
  Tensor y = Tensor::empty(pool_out_shape(g), xv.dtype(), s);
  avg_pool2d_forward(s, y, xv, g);
  return t.record(
      "avg_pool2d", y, {x},
      [g](BackwardCtx& ctx) {
        if (!ctx.needs(0)) return;
        GradSink d = ctx.sink(0);
        avg_pool2d_backward(ctx.stream(), d.t, ctx.grad_out().contiguous(ctx.stream()), g, d.beta);
      },
      [g](DiffBackwardCtx& c) { c.add(0, avg_pool2d_grad(c.tape(), c.grad_out(), g)); });
}

Var avg_pool2d_grad(Tape& t, Var gy, const Pool2dGeom& g) {
  Stream& s = t.stream();
  Tensor gv = t.value(gy).contiguous(s);
  check_shape("avg_pool2d_grad", "output gradient", gv, pool_out_shape(g));
  Tensor dx = Tensor::empty(pool_in_shape(g), gv.dtype(), s);
  avg_pool2d_backward(s, dx, gv, g, 0.0);
  return t.record(
      "avg_pool2d_grad", dx, {gy},
      [g](BackwardCtx& c) {
        if (!c.needs(0)) return;
        Stream& s = c.stream();
        Tensor u = c.grad_out().contiguous(s);
        write_sink(s, c.sink(0), [&](const Tensor& o) { avg_pool2d_forward(s, o, u, g); });
      },
      [g](DiffBackwardCtx& c) {
        Tape& t = c.tape();
        Var u = c.grad_out();
        // avg_pool2d on the geometry's own window (the adjoint of the adjoint).
        const Pool2dOptions o{.kernel = {g.kh, g.kw}, .stride = {g.sh, g.sw}, .padding = {g.ph, g.pw}, .layout = g.layout};
        c.add(0, avg_pool2d(t, u, o));
      });
}

Var global_avg_pool(Tape& t, Var x, Layout layout) {
  Stream& s = t.stream();
  Tensor xv = t.value(x).contiguous(s);
  SP_CHECK(xv.dim() == 4, "global_avg_pool: input must be 4-D ", layout, ", got ", xv.shape());
  const int ca = channel_axis(layout);
  Tensor y = Tensor::empty({xv.size(0), xv.size(ca)}, xv.dtype(), s);
  global_avg_pool_forward(s, y, xv, layout);
  const Shape in_shape = xv.shape();
  return t.record(
      "global_avg_pool", y, {x},
      [layout](BackwardCtx& ctx) {
        if (!ctx.needs(0)) return;
        GradSink d = ctx.sink(0);
        global_avg_pool_backward(ctx.stream(), d.t, ctx.grad_out().contiguous(ctx.stream()), d.beta, layout);
      },
      [in_shape, layout](DiffBackwardCtx& c) {
        Tape& t = c.tape();
        // gy [N, C] as [N, C, 1, 1] or [N, 1, 1, C], broadcast over the plane.
        const Shape keep = layout == Layout::nhwc ? Shape{in_shape[0], 1, 1, in_shape[3]}
                                                  : Shape{in_shape[0], in_shape[1], 1, 1};
        const int64_t hw = in_shape.numel() / std::max<int64_t>(1, in_shape[0] * in_shape[channel_axis(layout)]);
        Var g = expand(t, t.reshape(c.grad_out(), keep), in_shape);
        c.add(0, scale(t, g, 1.0 / double(hw)));
      });
}

}  // namespace sp::ag
