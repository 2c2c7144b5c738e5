// Per-element helpers shared by both backends: conversion of every storage type to and from double
// (16-bit types via dtype.h), and Indexer, which maps a linear element index to a strided offset.
// Covered by the cast/copy tests in tests/test_tensor.cpp and their GPU twins.
#pragma once
#include <type_traits>

#include "kernels/dtype.h"
#include "kernels/hd.h"
#include "kernels/shape.h"

namespace sp {

template <class T>
SP_HD double to_double(T v) { return double(v); }
template <>
SP_HD double to_double<bf16>(bf16 v) { return bf16_to_float(v.bits); }
template <>
SP_HD double to_double<f16>(f16 v) { return f16_to_float(v.bits); }

// Floating targets convert directly. Integer targets truncate toward zero through int64 and then wrap to
// the target width (NumPy/PyTorch behaviour for out-of-range casts); NaN becomes 0. Spelled out because a
// plain float-to-narrow-int conversion is undefined for out-of-range values and the CPU and the GPU would
// disagree.
template <class T>
SP_HD T from_double(double v) {
  if constexpr (std::is_floating_point_v<T>) {
    return T(v);
  } else {
    if (!(v == v)) return T(0);
    if (v >= 9.2233720368547758e18) v = 9.2233720368547748e18;
    if (v <= -9.2233720368547758e18) v = -9.2233720368547758e18;
    return T(int64_t(v));
  }
}
template <>
SP_HD bool from_double<bool>(double v) { return v != 0.0; }
template <>
SP_HD bf16 from_double<bf16>(double v) { return bf16{float_to_bf16(float(v))}; }
template <>
SP_HD f16 from_double<f16>(double v) { return f16{float_to_f16(float(v))}; }

// Linear index -> element offset for a strided view of up to Shape::kMaxDims dims. Passed by value to
// CUDA kernels.
struct Indexer {
  int n = 0;
  int64_t size[Shape::kMaxDims] = {};
  int64_t stride[Shape::kMaxDims] = {};
  Indexer() = default;
  Indexer(const Shape& shape, const Shape& strides) : n(shape.size()) {
    for (int d = 0; d < n; ++d) {
      size[d] = shape[d];
      stride[d] = strides[d];
    }
  }
  SP_HD int64_t offset(int64_t linear) const {
    int64_t off = 0;
    for (int d = n - 1; d >= 0; --d) {
      int64_t i = linear % size[d];
      linear /= size[d];
      off += i * stride[d];
    }
    return off;
  }
};

}  // namespace sp
