// Reduction autograd ops (see ops_reduce.h). Forward and backward work on the keepdim layout: the result
// is computed into it and viewed without the reduced dims when keepdim is false. sum/mean backward
// broadcasts the gradient (times 1/n for mean); max backward places it at the saved argmax. The
// differentiable backwards: sum/mean -> expand, max -> expand times the constant one-hot of the argmax,
// expand -> sum_to, sum_to -> expand.
#include "nn/ops_reduce.h"

#include "kernels/arg_check.h"
#include "kernels/reduce.h"
#include "nn/op_registry.h"
#include "nn/ops_elementwise.h"
#include "nn/ops_scale.h"

namespace sp::ag {

SP_REGISTER_OP(sum);
SP_REGISTER_OP(mean);
SP_REGISTER_OP(max);
SP_REGISTER_OP(expand);
SP_REGISTER_OP(sum_to);

namespace {

enum class Kind { sum, mean, max };
constexpr const char* kind_name(Kind k) { return k == Kind::sum ? "sum" : k == Kind::mean ? "mean" : "max"; }

// axes == nullptr: every axis, result of shape [].
Var reduce_op(Tape& t, Var x, const std::vector<int>* axes, bool keepdim, Kind kind) {
  const char* op = kind_name(kind);
  Stream& s = t.stream();
  const Tensor& xv = t.value(x);
  check_float_operands(op, s, xv, {});
  Shape keep, out;
  if (axes) {
    keep = reduced_shape(op, xv.shape(), *axes, true);
    out = reduced_shape(op, xv.shape(), *axes, keepdim);
  } else {
    for (int d = 0; d < xv.dim(); ++d) keep.push_back(1);
  }
  int64_t n = 1;  // elements per output
  for (int d = 0; d < xv.dim(); ++d) n *= keep[d] == 1 ? xv.size(d) : 1;
  SP_CHECK(kind == Kind::sum || n > 0 || keep.numel() == 0, op, ": reducing ", xv.str(), " to ", keep,
           " takes the ", op, " of no elements");
  Tensor y = Tensor::empty(keep, xv.dtype(), s);
  const Shape in_shape = xv.shape();
  if (kind == Kind::max) {
    Tensor argmax = Tensor::empty(keep, DType::i64, s);
    reduce_max(s, y, argmax, xv);
    return t.record(
        op, y.view(out), {x},
        [keep, argmax](BackwardCtx& c) {
          if (!c.needs(0)) return;
          GradSink g = c.sink(0);
          reduce_backward(c.stream(), g.t, c.grad_out().view(keep), argmax, 1.0, g.beta);
        },
        [keep, argmax, in_shape](DiffBackwardCtx& c) {
          Tape& t = c.tape();
          Stream& s = t.stream();
          const Tensor& gv = t.value(c.grad_out());
          Tensor ones = Tensor::full(keep, 1.0, gv.dtype(), s);
          Tensor onehot = Tensor::empty(in_shape, gv.dtype(), s);
          reduce_backward(s, onehot, ones, argmax, 1.0, 0.0);
          c.add(0, mul(t, expand(t, t.reshape(c.grad_out(), keep), in_shape), t.leaf(onehot)));
        });
  }
  double alpha = 1.0;
  if (kind == Kind::mean && n > 0) alpha = 1.0 / double(n);
  sum_to_shape(s, y, xv, alpha, 0.0);
  return t.record(
      op, y.view(out), {x},
      [keep, alpha](BackwardCtx& c) {
        if (!c.needs(0)) return;
        GradSink g = c.sink(0);
        reduce_backward(c.stream(), g.t, c.grad_out().view(keep), Tensor(), alpha, g.beta);
      },
      [keep, alpha, in_shape](DiffBackwardCtx& c) {
        Tape& t = c.tape();
        Var g = expand(t, t.reshape(c.grad_out(), keep), in_shape);
        c.add(0, alpha == 1.0 ? g : scale(t, g, alpha));
      });
}

}  // namespace

Var sum(Tape& t, Var x, const std::vector<int>& axes, bool keepdim) {
  return reduce_op(t, x, &axes, keepdim, Kind::sum);
}
Var sum(Tape& t, Var x) { return reduce_op(t, x, nullptr, false, Kind::sum); }
Var mean(Tape& t, Var x, const std::vector<int>& axes, bool keepdim) {
  return reduce_op(t, x, &axes, keepdim, Kind::mean);
}
Var mean(Tape& t, Var x) { return reduce_op(t, x, nullptr, false, Kind::mean); }
Var max(Tape& t, Var x, const std::vector<int>& axes, bool keepdim) {
  return reduce_op(t, x, &axes, keepdim, Kind::max);
}
Var max(Tape& t, Var x) { return reduce_op(t, x, nullptr, false, Kind::max); }

Var expand(Tape& t, Var x, const Shape& shape) {
  Stream& s = t.stream();
  Tensor xv = t.value(x).contiguous(s);
  check_float_operands("expand", s, xv, {});
  Shape keep = reduce_keep_shape("expand", shape, xv.shape());  // validates that x broadcasts to shape
  Tensor y = Tensor::empty(shape, xv.dtype(), s);
  reduce_backward(s, y, xv.view(keep), Tensor(), 1.0, 0.0);
  const Shape in_shape = xv.shape();
  return t.record(
      "expand", y, {x},
      [](BackwardCtx& c) {
        if (!c.needs(0)) return;
        GradSink g = c.sink(0);
        sum_to_shape(c.stream(), g.t, c.grad_out(), 1.0, g.beta);
      },
      [in_shape](DiffBackwardCtx& c) { c.add(0, sum_to(c.tape(), c.grad_out(), in_shape)); });
}

Var sum_to(Tape& t, Var x, const Shape& shape) {
  Stream& s = t.stream();
  const Tensor& xv = t.value(x);
  check_float_operands("sum_to", s, xv, {});
  Shape keep = reduce_keep_shape("sum_to", xv.shape(), shape);
  Tensor y = Tensor::empty(shape, xv.dtype(), s);
  sum_to_shape(s, y, xv, 1.0, 0.0);
  const Shape in_shape = xv.shape();
  return t.record(
      "sum_to", y, {x},
      [keep](BackwardCtx& c) {
        if (!c.needs(0)) return;
        GradSink g = c.sink(0);
        reduce_backward(c.stream(), g.t, c.grad_out().contiguous(c.stream()).view(keep), Tensor(), 1.0, g.beta);
      },
      [in_shape](DiffBackwardCtx& c) { c.add(0, expand(c.tape(), c.grad_out(), in_shape)); });
}

}  // namespace sp::ag
