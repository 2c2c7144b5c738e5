// Elementwise autograd ops (see ops_elementwise.h). First-order backward: activations differentiate from the
// saved output (sigmoid, tanh, exp, rsqrt, sqrt) or input (the rest); binary: d(a+b) = g, d(a-b) = (g, -g),
// d(ab) = (g b, g a), d(a/b) = (g / b, -g y / b) with y = a / b; a contribution computed at the output's
// shape is summed onto a broadcast input's shape, and written straight into the gradient when no broadcast
// happened; an input of add (or the first of sub) whose gradient is still empty adopts g's buffer uncopied.
// Differentiable backward: the same formulas as tape ops (the derivative of sigmoid is y - y^2, of tanh
// 1 - y^2, of silu s + x (s - s^2), of exp y, of rsqrt -y^3 / 2, of sqrt 1 / (2 y); relu's mask is a
// constant).
#include "nn/ops_elementwise.h"

#include "kernels/axpby.h"
#include "kernels/elementwise.h"
#include "kernels/reduce.h"
#include "nn/op_registry.h"
#include "nn/ops_reduce.h"
#include "nn/ops_scale.h"

namespace sp::ag {

SP_REGISTER_OP(relu);
SP_REGISTER_OP(leaky_relu);
SP_REGISTER_OP(silu);
SP_REGISTER_OP(sigmoid);
SP_REGISTER_OP(tanh);
SP_REGISTER_OP(exp);
SP_REGISTER_OP(rsqrt);
SP_REGISTER_OP(sqrt);
SP_REGISTER_OP(add);
SP_REGISTER_OP(sub);
SP_REGISTER_OP(mul);
SP_REGISTER_OP(div);

namespace {

// The derivative of relu or leaky_relu at `saved` as a constant (piecewise constant: a mask).
Var piecewise_mask(Tape& t, Var saved, Act act, double slope) {
  const Tensor& sv = t.value(saved);
  Tensor ones = Tensor::full(sv.shape(), 1.0, sv.dtype(), t.stream());
  Tensor mask = Tensor::empty(sv.shape(), sv.dtype(), t.stream());
  activation_backward(t.stream(), mask, ones, sv, act, slope, 0.0);
  return t.leaf(mask);
}

// d act / dx as tape values, for the differentiable backward.
Var act_derivative(Tape& t, Var x, Var y, Act act, double slope) {
  switch (act) {
    case Act::relu:
    case Act::leaky_relu:
      return piecewise_mask(t, x, act, slope);
    case Act::silu: {
      Var s = sigmoid(t, x);
      return add(t, s, mul(t, x, sub(t, s, mul(t, s, s))));
    }
    case Act::sigmoid: return sub(t, y, mul(t, y, y));
    case Act::tanh: return sub(t, constant_like(t, y, 1.0), mul(t, y, y));
    case Act::exp: return y;
    case Act::rsqrt: return scale(t, mul(t, y, mul(t, y, y)), -0.5);
    case Act::sqrt: return div(t, constant_like(t, y, 0.5), y);
  }
  SP_CHECK(false, "act_derivative: unknown activation");
  return Var{};
}

Var activation_op(Tape& t, Var x, Act act, double slope) {
  Stream& s = t.stream();
  const Tensor& xv = t.value(x);
  Tensor y = Tensor::empty(xv.shape(), xv.dtype(), s);
  activation(s, y, xv, act, slope);
  return t.record(
      act_name(act), y, {x},
      [act, slope](BackwardCtx& c) {
        if (!c.needs(0)) return;
        GradSink g = c.sink(0);
        const Tensor& saved = act_backward_uses_output(act) ? c.out() : c.in(0);
        activation_backward(c.stream(), g.t, c.grad_out(), saved, act, slope, g.beta);
      },
      [act, slope](DiffBackwardCtx& c) {
        Tape& t = c.tape();
        c.add(0, mul(t, c.grad_out(), act_derivative(t, c.in(0), c.out(), act, slope)));
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
      // An input with no gradient yet takes gy itself rather than a copy (the tape copies on a later
      // accumulation while the buffer is shared: BackwardCtx::adopt).
      if (c.needs(0) && !c.adopt(0, gy)) accumulate(s, c.sink(0), gy, 1.0);
      if (c.needs(1) && (op == BinaryOp::sub || !c.adopt(1, gy)))
        accumulate(s, c.sink(1), gy, op == BinaryOp::sub ? -1.0 : 1.0);
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

// g (at the output's shape) summed onto input i's shape.
void add_folded(DiffBackwardCtx& c, int i, Var g) {
  Tape& t = c.tape();
  const Shape& want = t.value(c.in(i)).shape();
  c.add(i, t.value(g).shape() == want ? g : sum_to(t, g, want));
}

void binary_diff_backward(DiffBackwardCtx& c, BinaryOp op) {
  Tape& t = c.tape();
  Var g = c.grad_out(), a = c.in(0), b = c.in(1);
  switch (op) {
    case BinaryOp::add:
    case BinaryOp::sub:
      if (c.needs(0)) add_folded(c, 0, g);
      if (c.needs(1)) add_folded(c, 1, op == BinaryOp::sub ? scale(t, g, -1.0) : g);
      return;
    case BinaryOp::mul:
      if (c.needs(0)) add_folded(c, 0, mul(t, g, b));
      if (c.needs(1)) add_folded(c, 1, mul(t, g, a));
      return;
    case BinaryOp::div:
      if (c.needs(0)) add_folded(c, 0, div(t, g, b));
      if (c.needs(1)) add_folded(c, 1, scale(t, div(t, mul(t, g, c.out()), b), -1.0));
      return;
  }
}

Var binary_op(Tape& t, Var a, Var b, BinaryOp op) {
  Stream& s = t.stream();
  const Tensor &av = t.value(a), &bv = t.value(b);
  Tensor y = Tensor::empty(broadcast_shapes(binary_name(op), av.shape(), bv.shape()), av.dtype(), s);
  binary(s, y, av, bv, op);
  return t.record(
      binary_name(op), y, {a, b}, [op](BackwardCtx& c) { binary_backward(c, op); },
      [op](DiffBackwardCtx& c) { binary_diff_backward(c, op); });
}

}  // namespace

Var relu(Tape& t, Var x) { return activation_op(t, x, Act::relu, 0.0); }
Var relu_mask(Tape& t, Var saved) { return piecewise_mask(t, saved, Act::relu, 0.0); }
Var leaky_relu(Tape& t, Var x, double negative_slope) {
  return activation_op(t, x, Act::leaky_relu, negative_slope);
}
Var silu(Tape& t, Var x) { return activation_op(t, x, Act::silu, 0.0); }
Var sigmoid(Tape& t, Var x) { return activation_op(t, x, Act::sigmoid, 0.0); }
Var tanh(Tape& t, Var x) { return activation_op(t, x, Act::tanh, 0.0); }
Var exp(Tape& t, Var x) { return activation_op(t, x, Act::exp, 0.0); }
Var rsqrt(Tape& t, Var x) { return activation_op(t, x, Act::rsqrt, 0.0); }
Var sqrt(Tape& t, Var x) { return activation_op(t, x, Act::sqrt, 0.0); }

Var add(Tape& t, Var a, Var b) { return binary_op(t, a, b, BinaryOp::add); }
Var sub(Tape& t, Var a, Var b) { return binary_op(t, a, b, BinaryOp::sub); }
Var mul(Tape& t, Var a, Var b) { return binary_op(t, a, b, BinaryOp::mul); }
Var div(Tape& t, Var a, Var b) { return binary_op(t, a, b, BinaryOp::div); }

Var constant_like(Tape& t, Var x, double value) {
  return t.leaf(Tensor::full({}, value, t.value(x).dtype(), t.stream()));
}

}  // namespace sp::ag
