// matmul and linear (see ops_matmul.h). Backward:
//   matmul: dA = gC B^T, dB = A^T gC;  linear: dx = gy w, dw = gy^T x, dbias = column sums of gy.
#include "nn/ops_matmul.h"

#include "kernels/bias.h"
#include "kernels/matmul.h"
#include "nn/op_registry.h"

namespace sp::ag {

SP_REGISTER_OP(matmul);
SP_REGISTER_OP(linear);

Var matmul(Tape& t, Var a, Var b) {
  Stream& s = t.stream();
  Tensor av = t.value(a).contiguous(s), bv = t.value(b).contiguous(s);
  SP_CHECK(av.dim() == bv.dim() && (av.dim() == 2 || av.dim() == 3), "matmul: operands must both be 2-D or both 3-D, got ",
           av.shape(), " and ", bv.shape());
  SP_CHECK(av.size(-1) == bv.size(-2), "matmul: inner dimensions differ: ", av.shape(), " x ", bv.shape());
  Shape out = av.shape();
  out[out.size() - 1] = bv.size(-1);
  if (av.dim() == 3)
    SP_CHECK(av.size(0) == bv.size(0), "matmul: batch sizes differ: ", av.shape(), " x ", bv.shape());
  Tensor c = Tensor::empty(out, av.dtype(), s);
  gemm(s, c, av, bv, false, false, 1.0, 0.0, "matmul");
  return t.record(c, {a, b}, [av, bv](BackwardCtx& ctx) {
    Stream& s = ctx.stream();
    Tensor gc = ctx.grad_out().contiguous(s);
    if (ctx.needs(0)) {
      GradSink g = ctx.sink(0);
      gemm(s, g.t, gc, bv, false, true, 1.0, g.beta, "matmul backward");
    }
    if (ctx.needs(1)) {
      GradSink g = ctx.sink(1);
      gemm(s, g.t, av, gc, true, false, 1.0, g.beta, "matmul backward");
    }
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
  if (bias.valid()) return t.record(y, {x, w, bias}, backward);
  return t.record(y, {x, w}, backward);
}

}  // namespace sp::ag
