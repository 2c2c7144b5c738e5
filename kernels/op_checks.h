// Argument checks shared by the validating kernel wrappers of the elementwise, reduce, concat and upsample
// families: every failure throws sp::Error naming the op and the tensors involved. Exercised by the
// bad-input tests in tests/test_ops_{elementwise,reduce,shape}.cpp.
#pragma once
#include <initializer_list>

#include "kernels/tensor.h"

namespace sp {

// Same floating dtype (f32 or f64) and same device as `ref`, which must be on the stream's device.
inline void check_float_operands(const char* op, Stream& s, const Tensor& ref,
                                 std::initializer_list<const Tensor*> others) {
  SP_CHECK(ref.defined(), op, ": undefined tensor");
  SP_CHECK(ref.dtype() == DType::f32 || ref.dtype() == DType::f64, op, ": dtype of ", ref.str(),
           " not supported (F32, F64)");
  SP_CHECK(ref.device() == s.device(), op, ": tensor ", ref.str(), " is not on the stream's device ", s.device());
  for (const Tensor* t : others) {
    SP_CHECK(t->defined(), op, ": undefined tensor");
    SP_CHECK(t->device() == ref.device(), op, ": devices differ: ", ref.str(), " vs ", t->str());
    SP_CHECK(t->dtype() == ref.dtype(), op, ": dtypes differ: ", ref.str(), " vs ", t->str());
  }
}

inline void check_contiguous(const char* op, const char* what, const Tensor& t) {
  SP_CHECK(t.is_contiguous(), op, ": ", what, " ", t.str(), " must be contiguous");
}

}  // namespace sp
