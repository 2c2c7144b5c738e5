// round_bf16 (see ops_precision.h): forward and first-order backward through the round_bf16 kernel (the
// backward accumulating with the GradSink beta), and a differentiable backward that is the op itself on the
// incoming gradient.
#include "nn/ops_precision.h"

#include "kernels/arg_check.h"
#include "kernels/round_bf16.h"
#include "nn/op_registry.h"

namespace sp::ag {

SP_REGISTER_OP(round_bf16);

Var round_bf16(Tape& t, Var x) {
  Stream& s = t.stream();
  Tensor xv = t.value(x).contiguous(s);
  check_float_on_stream("round_bf16", "input", xv, s);
  Tensor y = Tensor::empty(xv.shape(), xv.dtype(), s);
  sp::round_bf16(s, y, xv);
  return t.record(
      "round_bf16", y, {x},
      [](BackwardCtx& c) {
        if (!c.needs(0)) return;
        GradSink g = c.sink(0);
        sp::round_bf16(c.stream(), g.t, c.grad_out().contiguous(c.stream()), g.beta);
      },
      [](DiffBackwardCtx& c) { c.add(0, round_bf16(c.tape(), c.grad_out())); });
}

}  // namespace sp::ag
