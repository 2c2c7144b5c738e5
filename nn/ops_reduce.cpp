// Reduction autograd ops (see ops_reduce.h). Forward and backward work on the keepdim layout: the result
// is computed into it and viewed without the reduced dims when keepdim is false. sum/mean backward
// broadcasts the gradient (times 1/n for mean); max backward places it at the saved argmax.
#include "nn/ops_reduce.h"

#include "kernels/arg_check.h"
#include "kernels/reduce.h"
#include "nn/op_registry.h"

namespace sp::ag {

SP_REGISTER_OP(sum);
SP_REGISTER_OP(mean);
SP_REGISTER_OP(max);

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
  if (kind == Kind::max) {
    Tensor argmax = Tensor::empty(keep, DType::i64, s);
    reduce_max(s, y, argmax, xv);
    return t.record(y.view(out), {x}, [keep, argmax](BackwardCtx& c) {
      if (!c.needs(0)) return;
      GradSink g = c.sink(0);
      reduce_backward(c.stream(), g.t, c.grad_out().view(keep), argmax, 1.0, g.beta);
    });
  }
  double alpha = 1.0;
  if (kind == Kind::mean && n > 0) alpha = 1.0 / double(n);
  sum_to_shape(s, y, xv, alpha, 0.0);
  return t.record(y.view(out), {x}, [keep, alpha](BackwardCtx& c) {
    if (!c.needs(0)) return;
    GradSink g = c.sink(0);
    reduce_backward(c.stream(), g.t, c.grad_out().view(keep), Tensor(), alpha, g.beta);
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

}  // namespace sp::ag
