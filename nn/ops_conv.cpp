// conv2d and pooling ops (see ops_conv.h). conv2d backward: dx by backward-data, dw by backward-filter,
// dbias by a per-channel sum; each only when needed, accumulating into its sink with beta.
#include "nn/ops_conv.h"

#include "kernels/bias.h"
#include "kernels/pool.h"
#include "nn/op_registry.h"

namespace sp::ag {

SP_REGISTER_OP(conv2d);
SP_REGISTER_OP(max_pool2d);
SP_REGISTER_OP(avg_pool2d);
SP_REGISTER_OP(global_avg_pool);

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
  if (bv.defined()) channel_bias_add(s, y, bv, "conv2d");

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
      channel_bias_grad(s, d.t, gy, d.beta, "conv2d backward");
    }
  };
  if (bias.valid()) return t.record(y, {x, w, bias}, backward);
  return t.record(y, {x, w}, backward);
}

namespace {
Pool2dGeom pool_geometry(const char* op, const Tensor& x, const Pool2dOptions& o) {
  Hw stride = o.stride;
  if (stride.h == 0) stride.h = o.kernel.h;
  if (stride.w == 0) stride.w = o.kernel.w;
  return pool2d_geometry(op, x, o.kernel, stride, o.padding);
}
}  // namespace

Var max_pool2d(Tape& t, Var x, const Pool2dOptions& o) {
  Stream& s = t.stream();
  Tensor xv = t.value(x).contiguous(s);
  Pool2dGeom g = pool_geometry("max_pool2d", xv, o);
  Tensor y = Tensor::empty({g.n, g.c, g.oh, g.ow}, xv.dtype(), s);
  Tensor arg = Tensor::empty(y.shape(), DType::i32, s);
  max_pool2d_forward(s, y, arg, xv, g);
  return t.record(y, {x}, [arg, g](BackwardCtx& ctx) {
    if (!ctx.needs(0)) return;
    GradSink d = ctx.sink(0);
    max_pool2d_backward(ctx.stream(), d.t, ctx.grad_out().contiguous(ctx.stream()), arg, g, d.beta);
  });
}

Var avg_pool2d(Tape& t, Var x, const Pool2dOptions& o) {
  Stream& s = t.stream();
  Tensor xv = t.value(x).contiguous(s);
  Pool2dGeom g = pool_geometry("avg_pool2d", xv, o);
  Tensor y = Tensor::empty({g.n, g.c, g.oh, g.ow}, xv.dtype(), s);
  avg_pool2d_forward(s, y, xv, g);
  return t.record(y, {x}, [g](BackwardCtx& ctx) {
    if (!ctx.needs(0)) return;
    GradSink d = ctx.sink(0);
    avg_pool2d_backward(ctx.stream(), d.t, ctx.grad_out().contiguous(ctx.stream()), g, d.beta);
  });
}

Var global_avg_pool(Tape& t, Var x) {
  Stream& s = t.stream();
  Tensor xv = t.value(x).contiguous(s);
  SP_CHECK(xv.dim() == 4, "global_avg_pool: input must be 4-D NCHW, got ", xv.shape());
  Tensor y = Tensor::empty({xv.size(0), xv.size(1)}, xv.dtype(), s);
  global_avg_pool_forward(s, y, xv);
  return t.record(y, {x}, [](BackwardCtx& ctx) {
    if (!ctx.needs(0)) return;
    GradSink d = ctx.sink(0);
    global_avg_pool_backward(ctx.stream(), d.t, ctx.grad_out().contiguous(ctx.stream()), d.beta);
  });
}

}  // namespace sp::ag
