// Argument checks shared by the validating kernel wrappers (elementwise, reduce, concat, upsample, conv, pool,
// batch/group norm, loss) and nn/ops_reduce.cpp: floating inputs on the stream's device, companion tensors (outputs,
// per-channel parameters, saved statistics, gradient buffers) that must match a reference tensor, and
// contiguity. Every failure is an sp::Error naming the op, the argument and the tensors involved. Exercised
// by the bad-input tests of tests/test_ops_{elementwise,reduce,shape,conv,pool,norm,loss}.cpp.
#pragma once
#include <initializer_list>

#include "kernels/tensor.h"

namespace sp {

inline void check_contiguous(const char* op, const char* what, const Tensor& t) {
  SP_CHECK(t.is_contiguous(), op, ": ", what, " ", t.str(), " must be contiguous");
}

// Defined, f32 or f64, and on the stream's device.
inline void check_float_on_stream(const char* op, const char* what, const Tensor& x, Stream& s) {
  SP_CHECK(x.defined(), op, ": ", what, " is undefined");
  SP_CHECK(x.dtype() == DType::f32 || x.dtype() == DType::f64, op, ": ", what, " ", x.str(), " must be f32 or f64");
  SP_CHECK(x.device() == s.device(), op, ": ", what, " ", x.str(), " is not on the stream's device ", s.device());
}

// Defined, with the dtype and device of `ref`.
inline void check_same_kind(const char* op, const char* what, const Tensor& t, const Tensor& ref) {
  SP_CHECK(t.defined(), op, ": ", what, " is undefined");
  SP_CHECK(t.dtype() == ref.dtype(), op, ": dtypes differ: ", what, " ", t.str(), " vs ", ref.str());
  SP_CHECK(t.device() == ref.device(), op, ": devices differ: ", what, " ", t.str(), " vs ", ref.str());
}

// A contiguous floating input on the stream's device.
inline void check_float_input(const char* op, const Tensor& x, Stream& s, const char* what = "input") {
  check_float_on_stream(op, what, x, s);
  check_contiguous(op, what, x);
}

// `ref` floating on the stream's device and every other operand of its dtype and device (contiguity is
// checked separately, since some of these ops accept strided inputs).
inline void check_float_operands(const char* op, Stream& s, const Tensor& ref,
                                 std::initializer_list<const Tensor*> others) {
  check_float_on_stream(op, "tensor", ref, s);
  for (const Tensor* t : others) check_same_kind(op, "operand", *t, ref);
}

// `t` of the given shape and dtype (any dtype: e.g. an int32 argmax), contiguous, on `dev`, which must also be
// the stream's device.
inline void check_operand(Stream& s, const char* op, const char* what, const Tensor& t, const Shape& shape, DType dt,
                          Device dev) {
  SP_CHECK(t.shape() == shape, op, ": ", what, " ", t.shape(), " should be ", shape);
  SP_CHECK(t.dtype() == dt, op, ": ", what, " ", t.str(), " should have dtype ", dtype_name(dt));
  SP_CHECK(t.device() == dev && s.device() == dev, op, ": ", what, " ", t.str(), " and stream on ", s.device(),
           " should be on ", dev);
  check_contiguous(op, what, t);
}

// `t` (when defined) must be a contiguous tensor of x's dtype and device with the given shape; an undefined
// `t` is an error only when `required`.
inline void check_arg_like(const char* op, const char* what, const Tensor& t, const Tensor& x, const Shape& shape,
                           bool required) {
  if (!t.defined()) {
    SP_CHECK(!required, op, ": ", what, " is required");
    return;
  }
  SP_CHECK(t.shape() == shape, op, ": ", what, " ", t.str(), " must have shape ", shape, " (input ", x.str(), ")");
  check_same_kind(op, what, t, x);
  check_contiguous(op, what, t);
}

// Do two tensors' memory ranges (contiguous, or undefined: no) overlap?
inline bool memory_overlaps(const Tensor& a, const Tensor& b) {
  if (!a.defined() || !b.defined() || a.numel() == 0 || b.numel() == 0) return false;
  const char *pa = static_cast<const char*>(a.raw_data()), *pb = static_cast<const char*>(b.raw_data());
  return pa < pb + b.nbytes() && pb < pa + a.nbytes();
}

// Two outputs a kernel writes element by element must not share memory.
inline void check_disjoint(const char* op, const char* what_a, const Tensor& a, const char* what_b, const Tensor& b) {
  SP_CHECK(!memory_overlaps(a, b), op, ": ", what_a, " and ", what_b, " share memory; pass separate buffers");
}

}  // namespace sp
