// Elementwise autograd ops (see ops_elementwise.h). Activations differentiate from the saved output
// (sigmoid, tanh) or input (the rest). Binary backward: d(a+b) = g, d(a-b) = (g, -g), d(ab) = (g b, g a),
// d(a/b) = (g / b, -g y / b) with y = a / b; a contribution computed at the output's shape is summed onto
// a broadcast input's shape, and written straight into the gradient when no broadcast happened.
#include "nn/ops_elementwise.h"

#include "kernels/axpby.h"
#include "kernels/elementwise.h"
#include "kernels/reduce.h"
#include "nn/op_registry.h"

namespace sp::ag {

SP_REGISTER_OP(relu);
SP_REGISTER_OP(leaky_relu);
SP_REGISTER_OP(silu);
SP_REGISTER_OP(sigmoid);
SP_REGISTER_OP(tanh);
SP_REGISTER_OP(add);
SP_REGISTER_OP(sub);
SP_REGISTER_OP(mul);
SP_REGISTER_OP(div);

namespace {

Var activation_op(Tape& t, Var x, Act act, double slope) {
  Stream& s = t.stream();
  const Tensor& xv = t.value(x);
  Tensor y = Tensor::empty(xv.shape(), xv.dtype(), s);
  activation(s, y, xv, act, slope);
  return t.record(y, {x}, [act, slope](BackwardCtx& c) {
    if (!c.needs(0)) return;
    GradSink g = c.sink(0);
    const Tensor& saved = act_backward_uses_output(act) ? c.out() : c.in(0);
    activation_backward(c.stream(), g.t, c.grad_out(), saved, act, slope, g.beta);
  });
}

// sink = alpha * (gy folded onto the sink's shape) + beta * sink.
void accumulate(Stream& s, const GradSink& g, const Tensor& gy, double alpha) {
  if (g.t.numel() == gy.numel())
    axpby(s, g.t.view(gy.shape()), gy, alpha, g.beta);
  else
    sum_to_shape(s, g.t, gy, alpha, g.beta);
}

// sink = alpha * ((lhs op rhs) folded onto the sink's shape) + beta * sink; lhs op rhs has shape `full`.
void accumulate(Stream& s, const GradSink& g, const Tensor& lhs, const Tensor& rhs, BinaryOp op, double alpha,
                const Shape& full) {
  if (g.t.numel() == full.numel()) {
    binary(s, g.t.view(full), lhs, rhs, op, alpha, g.beta);
    return;
  }
  Tensor tmp = Tensor::empty(full, lhs.dtype(), s);
  binary(s, tmp, lhs, rhs, op);
  sum_to_shape(s, g.t, tmp, alpha, g.beta);
}

void binary_backward(BackwardCtx& c, BinaryOp op) {
  Stream& s = c.stream();
  const Tensor &gy = c.grad_out(), &a = c.in(0), &b = c.in(1);
  const Shape& full = gy.shape();
  switch (op) {
    case BinaryOp::add:
    case BinaryOp::sub:
      if (c.needs(0)) accumulate(s, c.sink(0), gy, 1.0);
      if (c.needs(1)) accumulate(s, c.sink(1), gy, op == BinaryOp::sub ? -1.0 : 1.0);
      return;
    case BinaryOp::mul:
      if (c.needs(0)) accumulate(s, c.sink(0), gy, b, BinaryOp::mul, 1.0, full);
      if (c.needs(1)) accumulate(s, c.sink(1), gy, a, BinaryOp::mul, 1.0, full);
      return;
    case BinaryOp::div:
      if (c.needs(0)) accumulate(s, c.sink(0), gy, b, BinaryOp::div, 1.0, full);
      if (c.needs(1)) {
        Tensor gy_y = Tensor::empty(full, gy.dtype(), s);
        binary(s, gy_y, gy, c.out(), BinaryOp::mul);
        accumulate(s, c.sink(1), gy_y, b, BinaryOp::div, -1.0, full);
      }
      return;
  }
}

Var binary_op(Tape& t, Var a, Var b, BinaryOp op) {
  Stream& s = t.stream();
  const Tensor &av = t.value(a), &bv = t.value(b);
  Tensor y = Tensor::empty(broadcast_shapes(binary_name(op), av.shape(), bv.shape()), av.dtype(), s);
  binary(s, y, av, bv, op);
  return t.record(y, {a, b}, [op](BackwardCtx& c) { binary_backward(c, op); });
}

}  // namespace

Var relu(Tape& t, Var x) { return activation_op(t, x, Act::relu, 0.0); }
Var leaky_relu(Tape& t, Var x, double negative_slope) {
  return activation_op(t, x, Act::leaky_relu, negative_slope);
}
Var silu(Tape& t, Var x) { return activation_op(t, x, Act::silu, 0.0); }
Var sigmoid(Tape& t, Var x) { return activation_op(t, x, Act::sigmoid, 0.0); }
Var tanh(Tape& t, Var x) { return activation_op(t, x, Act::tanh, 0.0); }

Var add(Tape& t, Var a, Var b) { return binary_op(t, a, b, BinaryOp::add); }
Var sub(Tape& t, Var a, Var b) { return binary_op(t, a, b, BinaryOp::sub); }
Var mul(Tape& t, Var a, Var b) { return binary_op(t, a, b, BinaryOp::mul); }
Var div(Tape& t, Var a, Var b) { return binary_op(t, a, b, BinaryOp::div); }

}  // namespace sp::ag
