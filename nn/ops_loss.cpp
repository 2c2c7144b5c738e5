// log_softmax, cross_entropy (hard and soft targets), kl_div, mse_loss: forward through the kernels,
// backward closures that request only the gradients the tape needs (see ops_loss.h).
#include "nn/ops_loss.h"

#include "kernels/loss.h"
#include "kernels/softmax.h"
#include "nn/op_registry.h"

namespace sp::ag {

SP_REGISTER_OP(log_softmax);
SP_REGISTER_OP(cross_entropy);
SP_REGISTER_OP(kl_div);
SP_REGISTER_OP(mse_loss);

namespace {

// Sink of input i when the tape wants its gradient; undefined otherwise.
Tensor sink_if_needed(BackwardCtx& c, int i, double& beta) {
  if (!c.needs(i)) return Tensor();
  GradSink g = c.sink(i);
  beta = g.beta;
  return g.t;
}

int64_t rows_of(const char* op, const Tensor& logits) {
  SP_CHECK(logits.dim() == 2, op, ": logits ", logits.str(), " must be [N, C]");
  return logits.size(0);
}

}  // namespace

Var log_softmax(Tape& t, Var x) {
  Stream& s = t.stream();
  Tensor xv = t.value(x).contiguous(s);
  Tensor y = Tensor::empty(xv.shape(), xv.dtype(), s);
  log_softmax_forward(s, y, xv);
  return t.record("log_softmax", y, {x}, [y](BackwardCtx& c) {
    if (!c.needs(0)) return;
    double beta = 0;
    Tensor dx = sink_if_needed(c, 0, beta);
    log_softmax_backward(c.stream(), dx, c.grad_out().contiguous(c.stream()), y, beta);
  }, {});
}

Var cross_entropy(Tape& t, Var logits, const Tensor& labels, double label_smoothing) {
  Stream& s = t.stream();
  Tensor xv = t.value(logits).contiguous(s);
  SP_CHECK(labels.defined(), "cross_entropy: labels are undefined");
  Tensor yv = labels.contiguous(s);
  Tensor loss = Tensor::empty({}, xv.dtype(), s), lse = Tensor::empty({rows_of("cross_entropy", xv)}, xv.dtype(), s);
  cross_entropy_forward(s, loss, lse, xv, yv, label_smoothing);
  return t.record("cross_entropy", loss, {logits}, [xv, yv, lse, label_smoothing](BackwardCtx& c) {
    if (!c.needs(0)) return;
    double beta = 0;
    Tensor dx = sink_if_needed(c, 0, beta);
    cross_entropy_backward(c.stream(), dx, c.grad_out(), xv, yv, lse, label_smoothing, beta);
  }, {});
}

Var cross_entropy(Tape& t, Var logits, Var targets, double label_smoothing) {
  Stream& s = t.stream();
  Tensor xv = t.value(logits).contiguous(s), tv = t.value(targets).contiguous(s);
  const int64_t N = rows_of("cross_entropy", xv);
  Tensor loss = Tensor::empty({}, xv.dtype(), s);
  Tensor lse = Tensor::empty({N}, xv.dtype(), s), tsum = Tensor::empty({N}, xv.dtype(), s);
  soft_cross_entropy_forward(s, loss, lse, tsum, xv, tv, label_smoothing);
  return t.record("cross_entropy", loss, {logits, targets}, [xv, tv, lse, tsum, label_smoothing](BackwardCtx& c) {
    double bl = 0, bt = 0;
    Tensor dl = sink_if_needed(c, 0, bl), dt = sink_if_needed(c, 1, bt);
    soft_cross_entropy_backward(c.stream(), dl, dt, c.grad_out(), xv, tv, lse, tsum, label_smoothing, bl, bt);
  }, {});
}

Var kl_div(Tape& t, Var student, Var teacher, double temperature) {
  Stream& s = t.stream();
  Tensor sv = t.value(student).contiguous(s), tv = t.value(teacher).contiguous(s);
  const int64_t N = rows_of("kl_div", sv);
  Tensor loss = Tensor::empty({}, sv.dtype(), s);
  Tensor lse_s = Tensor::empty({N}, sv.dtype(), s), lse_t = Tensor::empty({N}, sv.dtype(), s);
  Tensor row_kl = Tensor::empty({N}, sv.dtype(), s);
  kl_div_forward(s, loss, lse_s, lse_t, row_kl, sv, tv, temperature);
  return t.record("kl_div", loss, {student, teacher}, [sv, tv, lse_s, lse_t, row_kl, temperature](BackwardCtx& c) {
    double bs = 0, bt = 0;
    Tensor ds = sink_if_needed(c, 0, bs), dt = sink_if_needed(c, 1, bt);
    kl_div_backward(c.stream(), ds, dt, c.grad_out(), sv, tv, lse_s, lse_t, row_kl, temperature, bs, bt);
  }, {});
}

Var mse_loss(Tape& t, Var input, Var target) {
  Stream& s = t.stream();
  Tensor av = t.value(input).contiguous(s), bv = t.value(target).contiguous(s);
  Tensor loss = Tensor::empty({}, av.dtype(), s);
  mse_forward(s, loss, av, bv);
  return t.record("mse_loss", loss, {input, target}, [av, bv](BackwardCtx& c) {
    double ba = 0, bb = 0;
    Tensor da = sink_if_needed(c, 0, ba), db = sink_if_needed(c, 1, bb);
    mse_backward(c.stream(), da, db, c.grad_out(), av, bv, ba, bb);
  }, {});
}

}  // namespace sp::ag
