// matmul and linear (see ops_matmul.h). With C = op(A) op(B):
//   dA = gC op(B)^T (or its transpose op(B) gC^T when A enters transposed),
//   dB = op(A)^T gC (or gC^T op(A) when B enters transposed);
//   linear: dx = gy w, dw = gy^T x, dbias = column sums of gy.
#include "nn/ops_matmul.h"

#include "kernels/bias.h"
#include "kernels/matmul.h"
#include "nn/op_registry.h"
#include "nn/ops_reduce.h"

namespace sp::ag {

SP_REGISTER_OP(matmul);
SP_REGISTER_OP(linear);

Var matmul(Tape& t, Var a, Var b, bool ta, bool tb) {
  Stream& s = t.stream();
  Tensor av = t.value(a).contiguous(s), bv = t.value(b).contiguous(s);
  SP_CHECK(av.dim() == bv.dim() && (av.dim() == 2 || av.dim() == 3), "matmul: operands must both be 2-D or both 3-D, got ",
           av.shape(), " and ", bv.shape());
  const int64_t m = ta ? av.size(-1) : av.size(-2), k = ta ? av.size(-2) : av.size(-1);
  const int64_t kb = tb ? bv.size(-1) : bv.size(-2), n = tb ? bv.size(-2) : bv.size(-1);
  SP_CHECK(k == kb, "matmul: inner dimensions differ: ", av.shape(), ta ? "^T" : "", " x ", bv.shape(),
           tb ? "^T" : "");
  Shape out = av.shape();
  out[out.size() - 2] = m;
  out[out.size() - 1] = n;
  if (av.dim() == 3)
    SP_CHECK(av.size(0) == bv.size(0), "matmul: batch sizes differ: ", av.shape(), " x ", bv.shape());
  Tensor c = Tensor::empty(out, av.dtype(), s);
  gemm(s, c, av, bv, ta, tb, 1.0, 0.0, "matmul");
  return t.record(
      "matmul", c, {a, b},
      [av, bv, ta, tb](BackwardCtx& ctx) {
        Stream& s = ctx.stream();
        Tensor gc = ctx.grad_out().contiguous(s);
        if (ctx.needs(0)) {
          GradSink g = ctx.sink(0);
          if (!ta)
            gemm(s, g.t, gc, bv, false, !tb, 1.0, g.beta, "matmul backward");
          else
            gemm(s, g.t, bv, gc, tb, true, 1.0, g.beta, "matmul backward");
        }
        if (ctx.needs(1)) {
          GradSink g = ctx.sink(1);
          if (!tb)
            gemm(s, g.t, av, gc, !ta, false, 1.0, g.beta, "matmul backward");
          else
            gemm(s, g.t, gc, av, true, ta, 1.0, g.beta, "matmul backward");
        }
      },
      [ta, tb](DiffBackwardCtx& c) {
        Tape& t = c.tape();
        Var gc = c.grad_out();
        if (c.needs(0)) c.add(0, !ta ? matmul(t, gc, c.in(1), false, !tb) : matmul(t, c.in(1), gc, tb, true));
        if (c.needs(1)) c.add(1, !tb ? matmul(t, c.in(0), gc, !ta, false) : matmul(t, gc, c.in(0), true, ta));
      });
}

Var linear(Tape& t, Var x, Var w, Var bias) {
  Stream& s = t.stream();
  Tensor xv = t.value(x).contiguous(s), wv = t.value(w).contiguous(s);
  SP_CHECK(xv.dim() >= 1 && wv.dim() == 2, "linear: input ", xv.shape(), " must be [..., in] and weight ",
           wv.shape(), " [out, in]");
  SP_CHECK(xv.size(-1) == wv.size(1), "linear: input ", xv.shape(), " has ", xv.size(-1), " features but weight ",
           wv.shape(), " expects ", wv.size(1));
  Tensor bv;
  if (bias.valid()) {
    bv = t.value(bias).contiguous(s);
    SP_CHECK(bv.dim() == 1 && bv.size(0) == wv.size(0), "linear: bias ", bv.shape(), " does not match weight ",
             wv.shape());
  }
  Tensor x2 = xv.reshape({-1, wv.size(1)});
  Shape out = xv.shape();
  out[out.size() - 1] = wv.size(0);
  Tensor y = Tensor::empty(out, xv.dtype(), s);
  Tensor y2 = y.reshape({x2.size(0), wv.size(0)});
  gemm(s, y2, x2, wv, false, true, 1.0, 0.0, "linear");
  if (bv.defined()) channel_bias_add(s, y2, bv, "linear");

  auto backward = [x2, wv, has_bias = bias.valid()](BackwardCtx& ctx) {
    Stream& s = ctx.stream();
    Tensor gy = ctx.grad_out().contiguous(s).reshape({x2.size(0), wv.size(0)});
    if (ctx.needs(0)) {
      GradSink g = ctx.sink(0);
      gemm(s, g.t.reshape(x2.shape()), gy, wv, false, false, 1.0, g.beta, "linear backward");
    }
    if (ctx.needs(1)) {
      GradSink g = ctx.sink(1);
      gemm(s, g.t, gy, x2, true, false, 1.0, g.beta, "linear backward");
    }
    if (has_bias && ctx.needs(2)) {
      GradSink g = ctx.sink(2);
      channel_bias_grad(s, g.t, gy, g.beta, "linear backward");
    }
  };
  const Shape x_shape = xv.shape(), x2_shape = x2.shape(), y2_shape = y2.shape();
  auto diff_backward = [x_shape, x2_shape, y2_shape, has_bias = bias.valid()](DiffBackwardCtx& c) {
    Tape& t = c.tape();
    Var gy = c.grad_out();
    if (t.value(gy).shape() != y2_shape) gy = t.reshape(gy, y2_shape);
    if (c.needs(0)) {
      Var gx = matmul(t, gy, c.in(1));
      c.add(0, x_shape == x2_shape ? gx : t.reshape(gx, x_shape));
    }
    if (c.needs(1)) {
      Var x = c.in(0);
      if (x_shape != x2_shape) x = t.reshape(x, x2_shape);
      c.add(1, matmul(t, gy, x, true, false));
    }
    if (has_bias && c.needs(2)) c.add(2, sum(t, gy, {0}));
  };
  if (bias.valid()) return t.record("linear", y, {x, w, bias}, backward, diff_backward);
  return t.record("linear", y, {x, w}, backward, diff_backward);
}

}  // namespace sp::ag
