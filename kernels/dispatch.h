// Switches from a runtime DType to a C++ type for templated kernels. The macro bodies see `scalar_t`.
// Used by every kernel file; errors name the op and the unsupported dtype.
#pragma once
#include "kernels/dtype.h"

#define SP_DISPATCH_CASE(DT, TYPE, ...) \
  case ::sp::DType::DT: {               \
    using scalar_t = TYPE;              \
    __VA_ARGS__;                        \
    break;                              \
  }

// f32 and f64: the types the CPU reference computes in.
#define SP_DISPATCH_FLOAT(dtype, op, ...)                                                   \
  switch (dtype) {                                                                          \
    SP_DISPATCH_CASE(f32, float, __VA_ARGS__)                                               \
    SP_DISPATCH_CASE(f64, double, __VA_ARGS__)                                              \
    default: SP_FAIL(op, ": dtype ", ::sp::dtype_name(dtype), " not supported (f32, f64)"); \
  }

#define SP_DISPATCH_ALL(dtype, op, ...)                       \
  switch (dtype) {                                            \
    SP_DISPATCH_CASE(f32, float, __VA_ARGS__)                 \
    SP_DISPATCH_CASE(f64, double, __VA_ARGS__)                \
    SP_DISPATCH_CASE(bf16, ::sp::bf16, __VA_ARGS__)           \
    SP_DISPATCH_CASE(f16, ::sp::f16, __VA_ARGS__)             \
    SP_DISPATCH_CASE(i32, int32_t, __VA_ARGS__)               \
    SP_DISPATCH_CASE(i64, int64_t, __VA_ARGS__)               \
    SP_DISPATCH_CASE(u8, uint8_t, __VA_ARGS__)                \
    SP_DISPATCH_CASE(boolean, bool, __VA_ARGS__)              \
    default: SP_FAIL(op, ": unknown dtype ", int(dtype)); \
  }
