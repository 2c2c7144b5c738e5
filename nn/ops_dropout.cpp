// dropout (see ops_dropout.h): the mask from the dropout_mask kernel, the product and its first-order
// backward through the broadcasting binary kernel (gx = gy * m + beta * gx), and a differentiable backward
// mul(gy, m) with the mask as a constant leaf.
#include "nn/ops_dropout.h"

#include "kernels/arg_check.h"
#include "kernels/dropout.h"
#include "kernels/elementwise.h"
#include "nn/op_registry.h"
#include "nn/ops_elementwise.h"

namespace sp::ag {

SP_REGISTER_OP(dropout);

Var dropout(Tape& t, Var x, double p, uint64_t key, uint64_t stream_id) {
  SP_CHECK(p >= 0.0 && p < 1.0, "dropout: probability ", p, " must be in [0, 1)");
  if (p == 0.0) return x;
  Stream& s = t.stream();
  Tensor xv = t.value(x);
  check_float_on_stream("dropout", "input", xv, s);
  Tensor mask = Tensor::empty(xv.shape(), xv.dtype(), s);
  dropout_mask(s, mask, p, key, stream_id);
  Tensor y = Tensor::empty(xv.shape(), xv.dtype(), s);
  binary(s, y, xv, mask, BinaryOp::mul);
  return t.record(
      "dropout", y, {x},
      [mask](BackwardCtx& c) {
        if (!c.needs(0)) return;
        GradSink g = c.sink(0);
        binary(c.stream(), g.t, c.grad_out(), mask, BinaryOp::mul, 1.0, g.beta);
      },
      [mask](DiffBackwardCtx& c) {
        Tape& t = c.tape();
        c.add(0, mul(t, c.grad_out(), t.leaf(mask)));
      });
}

}  // namespace sp::ag
