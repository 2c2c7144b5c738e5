// Argument checks shared by the norm and loss wrappers (kernels/{batchnorm,groupnorm,loss}.cpp): a
// floating input, and optional or required companion tensors (per-channel parameters, saved statistics,
// gradient buffers) that must match it; each failure an sp::Error naming the op, the argument and the
// shapes. Exercised by the bad-input tests of tests/test_ops_norm.cpp and tests/test_ops_loss.cpp.
#pragma once
#include "kernels/tensor.h"

namespace sp {

// `t` (when defined) must be a contiguous floating tensor of x's dtype and device with the given shape.
inline void check_arg_like(const char* op, const char* what, const Tensor& t, const Tensor& x, const Shape& shape,
                           bool required) {
  if (!t.defined()) {
    SP_CHECK(!required, op, ": ", what, " is required");
    return;
  }
  SP_CHECK(t.shape() == shape, op, ": ", what, " ", t.str(), " must have shape ", shape, " (input ", x.str(), ")");
  SP_CHECK(t.dtype() == x.dtype(), op, ": ", what, " ", t.str(), " must have the dtype of ", x.str());
  SP_CHECK(t.device() == x.device(), op, ": ", what, " ", t.str(), " is not on the device of ", x.str());
  SP_CHECK(t.is_contiguous(), op, ": ", what, " ", t.str(), " must be contiguous");
}

inline void check_float_input(const char* op, const Tensor& x, Stream& s, const char* what = "input") {
  SP_CHECK(x.defined(), op, ": ", what, " is undefined");
  SP_CHECK(x.dtype() == DType::f32 || x.dtype() == DType::f64, op, ": ", what, " ", x.str(), " must be f32 or f64");
  SP_CHECK(x.is_contiguous(), op, ": ", what, " ", x.str(), " must be contiguous");
  SP_CHECK(x.device() == s.device(), op, ": ", what, " ", x.str(), " is not on the stream's device ", s.device());
}

}  // namespace sp
