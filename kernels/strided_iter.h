// StridedIter<K>: walks a contiguous output in linear order and yields the element offset of each of K
// (possibly strided or broadcast) inputs. make_strided_iter drops size-1 dims and merges adjacent dims that
// every input steps through contiguously, so a same-shape contiguous op becomes one dim (offset = i * 1)
// and a per-channel bias over NCHW becomes [N, C, H*W]; the device code then does few or no divisions.
// Shared by the elementwise kernels of both backends; tested in tests/test_ops_elementwise.cpp
// (StridedIter.*), on the GPU through every binary/activation comparison.
#pragma once
#include <array>

#include "kernels/hd.h"
#include "kernels/shape.h"

namespace sp {

// I: index type. The CUDA kernels switch to int32_t arithmetic (much cheaper division) via narrow() when
// every index and offset fits.
template <int K, class I = int64_t>
struct StridedIter {
  using index_type = I;
  int n = 0;
  I size[Shape::kMaxDims] = {};
  I stride[K][Shape::kMaxDims] = {};

  SP_HD void offsets(I i, I (&off)[K]) const {
    if (n == 1) {  // the common case after merging: no division
      for (int k = 0; k < K; ++k) off[k] = i * stride[k][0];
      return;
    }
    for (int k = 0; k < K; ++k) off[k] = 0;
    for (int d = n - 1; d >= 0; --d) {
      I q = i / size[d], r = i - q * size[d];
      i = q;
      for (int k = 0; k < K; ++k) off[k] += r * stride[k][d];
    }
  }

  // True when linear indices below `numel` and every offset they map to fit in int32_t (strides may be
  // negative in views made with as_strided).
  bool fits_int32(int64_t numel) const {
    constexpr int64_t kMax = 0x7fffffff;
    if (numel > kMax) return false;
    for (int k = 0; k < K; ++k) {
      int64_t lo = 0, hi = 0;
      for (int d = 0; d < n; ++d) {
        int64_t span = (int64_t(size[d]) - 1) * int64_t(stride[k][d]);
        (span < 0 ? lo : hi) += span;
      }
      if (lo < -kMax || hi > kMax) return false;
    }
    return true;
  }
  template <class J>
  StridedIter<K, J> narrow() const {
    StridedIter<K, J> r;
    r.n = n;
    for (int d = 0; d < n; ++d) {
      r.size[d] = J(size[d]);
      for (int k = 0; k < K; ++k) r.stride[k][d] = J(stride[k][d]);
    }
    return r;
  }
};

// shape: the output's shape; strides[k]: input k's strides over that shape (0 along broadcast dims, as
// Tensor::expand makes them).
template <int K>
StridedIter<K> make_strided_iter(const Shape& shape, const std::array<Shape, K>& strides) {
  StridedIter<K> it;
  for (int d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    int m = it.n - 1;
    bool merge = m >= 0;
    for (int k = 0; k < K && merge; ++k) merge = it.stride[k][m] == strides[k][d] * shape[d];
    if (merge) {
      it.size[m] *= shape[d];
      for (int k = 0; k < K; ++k) it.stride[k][m] = strides[k][d];
    } else {
      it.size[it.n] = shape[d];
      for (int k = 0; k < K; ++k) it.stride[k][it.n] = strides[k][d];
      ++it.n;
    }
  }
  return it;
}

}  // namespace sp
