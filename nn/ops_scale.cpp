// scale: forward y = alpha x; backward gx += alpha gy (see ops_scale.h).
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
  return t.record(y, {x}, [alpha](BackwardCtx& c) {
    if (!c.needs(0)) return;
    GradSink g = c.sink(0);
    axpby(c.stream(), g.t, c.grad_out(), alpha, g.beta);
  });
}

}  // namespace sp::ag
