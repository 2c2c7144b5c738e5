// scale: forward y = alpha x; backward gx += alpha gy, differentiable as scale(gy, alpha) (see ops_scale.h).
#include "nn/ops_scale.h"

#include "kernels/axpby.h"
#include "nn/op_registry.h"

namespace sp::ag {

SP_REGISTER_OP(scale);

Var scale(Tape& t, Var x, double alpha) {
  Stream& s = t.stream();
  Tensor xv = t.value(x).contiguous(s);
  Tensor y = Tensor::empty(xv.shape(), xv.dtype(), s);
  axpby(s, y, xv, alpha, 0.0);
  return t.record(
      "scale", y, {x},
      [alpha](BackwardCtx& c) {
        if (!c.needs(0)) return;
        GradSink g = c.sink(0);
        axpby(c.stream(), g.t, c.grad_out(), alpha, g.beta);
      },
      [alpha](DiffBackwardCtx& c) { c.add(0, scale(c.tape(), c.grad_out(), alpha)); });
}

}  // namespace sp::ag
