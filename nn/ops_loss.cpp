// log_softmax, softmax, cross_entropy (hard and soft targets), kl_div, mse_loss: forward through the kernels,
// backward closures that request only the gradients the tape needs (see ops_loss.h). The differentiable
// backwards write the first-order formulas with tape ops, probabilities as exp(log_softmax) (finite for
// +-1000 logits) and the scalar upstream gradient g broadcast by mul:
//   log_softmax  gx = gy - exp(y) sum(gy)
//   softmax      gx = y (gy - sum(gy y))
//   hard CE      gx = (p - t') g / N, t' the smoothed one-hot, a constant
//   soft CE      gx = (p sum(t') - t') g / N, gt = -(1 - eps) log p g / N
//   kl_div       gs = T / N (q - p) g, gt = T / N p (log p - log q - KL_row) g (p teacher, q student)
//   mse          ga = 2 / n (a - b) g = -gb.
#include "nn/ops_loss.h"

#include <cmath>

#include "kernels/loss.h"
#include "kernels/softmax.h"
#include "nn/op_registry.h"
#include "nn/ops_elementwise.h"
#include "nn/ops_reduce.h"
#include "nn/ops_scale.h"

namespace sp::ag {

SP_REGISTER_OP(log_softmax);
SP_REGISTER_OP(softmax);
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

// -t' with t' = (1 - eps) onehot(labels) + eps / C, read off the first-order kernel at p = 0 (log-sum-exp
// +inf) with upstream gradient N: the smoothing (and the GPU's NaN rows for bad labels) is then the
// kernel's own (the GPU's N * (1/N) may round by an ulp), and no one-hot kernel or host sync on the labels
// is needed.
Tensor minus_smoothed_onehot(Stream& s, const Tensor& labels, const Shape& shape, DType dt, double eps) {
  Tensor zeros = Tensor::zeros(shape, dt, s), out = Tensor::empty(shape, dt, s);
  Tensor lse = Tensor::full({shape[0]}, INFINITY, dt, s);
  cross_entropy_backward(s, out, Tensor::full({}, double(shape[0]), dt, s), zeros, labels, lse, eps, 0.0);
  return out;
}

// v * alpha, without a node when alpha is 1.
Var scaled(Tape& t, Var v, double alpha) { return alpha == 1.0 ? v : scale(t, v, alpha); }

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
  }, [](DiffBackwardCtx& c) {
    Tape& t = c.tape();
    Var gy = c.grad_out();
    c.add(0, sub(t, gy, mul(t, exp(t, c.out()), sum(t, gy, {-1}, true))));
  });
}

Var softmax(Tape& t, Var x) {
  Stream& s = t.stream();
  Tensor xv = t.value(x).contiguous(s);
  Tensor y = Tensor::empty(xv.shape(), xv.dtype(), s);
  softmax_forward(s, y, xv);
  return t.record("softmax", y, {x}, [y](BackwardCtx& c) {
    if (!c.needs(0)) return;
    double beta = 0;
    Tensor dx = sink_if_needed(c, 0, beta);
    softmax_backward(c.stream(), dx, c.grad_out().contiguous(c.stream()), y, beta);
  }, [](DiffBackwardCtx& c) {
    Tape& t = c.tape();
    Var gy = c.grad_out(), y = c.out();
    c.add(0, mul(t, y, sub(t, gy, sum(t, mul(t, gy, y), {-1}, true))));
  });
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
  }, [yv, label_smoothing, shape = xv.shape(), dtype = xv.dtype()](DiffBackwardCtx& c) {
    Tape& t = c.tape();
    Var minus_target = t.leaf(minus_smoothed_onehot(t.stream(), yv, shape, dtype, label_smoothing));
    Var p = exp(t, log_softmax(t, c.in(0)));
    c.add(0, mul(t, scale(t, add(t, p, minus_target), 1.0 / double(shape[0])), c.grad_out()));
  });
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
  }, [N, label_smoothing](DiffBackwardCtx& c) {
    Tape& t = c.tape();
    const double eps = label_smoothing;
    Var log_p = log_softmax(t, c.in(0));
    if (c.needs(0)) {
      const double C = double(t.value(c.in(0)).size(1));
      Var target = scaled(t, c.in(1), 1.0 - eps);
      if (eps != 0.0) target = add(t, target, constant_like(t, target, eps / C));
      Var g = sub(t, mul(t, exp(t, log_p), sum(t, target, {-1}, true)), target);
      c.add(0, mul(t, scale(t, g, 1.0 / double(N)), c.grad_out()));
    }
    if (c.needs(1)) c.add(1, mul(t, scale(t, log_p, -(1.0 - eps) / double(N)), c.grad_out()));
  });
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
  }, [N, temperature](DiffBackwardCtx& c) {
    Tape& t = c.tape();
    const double T = temperature, k = T / double(N);
    Var log_q = log_softmax(t, scaled(t, c.in(0), 1.0 / T)), log_p = log_softmax(t, scaled(t, c.in(1), 1.0 / T));
    Var p = exp(t, log_p);
    if (c.needs(0)) c.add(0, mul(t, scale(t, sub(t, exp(t, log_q), p), k), c.grad_out()));
    if (c.needs(1)) {
      Var log_ratio = sub(t, log_p, log_q);
      Var row_kl = sum(t, mul(t, p, log_ratio), {-1}, true);
      c.add(1, mul(t, scale(t, mul(t, p, sub(t, log_ratio, row_kl)), k), c.grad_out()));
    }
  });
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
  }, [](DiffBackwardCtx& c) {
    Tape& t = c.tape();
    const double n = double(t.value(c.in(0)).numel());
    Var ga = mul(t, scale(t, sub(t, c.in(0), c.in(1)), 2.0 / n), c.grad_out());
    if (c.needs(0)) c.add(0, ga);
    if (c.needs(1)) c.add(1, scale(t, ga, -1.0));
  });
}

}  // namespace sp::ag
