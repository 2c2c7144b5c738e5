// Shape: a small fixed-capacity list of dimension sizes (or strides), cheap to copy on the hot path of a
// training step. Tested in tests/test_tensor.cpp.
#pragma once
#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <ostream>
#include <span>
#include <string>

#include "kernels/error.h"

namespace sp {

class Shape {
 public:
  static constexpr int kMaxDims = 8;
  Shape() = default;
  Shape(std::initializer_list<int64_t> d) { assign(d.begin(), d.end()); }
  Shape(std::span<const int64_t> d) { assign(d.begin(), d.end()); }
  template <class It>
  Shape(It b, It e) { assign(b, e); }

  int size() const { return n_; }
  bool empty() const { return n_ == 0; }
  int64_t operator[](int i) const { return d_[i]; }
  int64_t& operator[](int i) { return d_[i]; }
  const int64_t* begin() const { return d_; }
  const int64_t* end() const { return d_ + n_; }
  int64_t* begin() { return d_; }
  int64_t* end() { return d_ + n_; }
  int64_t back() const { return d_[n_ - 1]; }
  void push_back(int64_t v) {
    SP_CHECK(n_ < kMaxDims, "Shape: more than ", kMaxDims, " dimensions");
    d_[n_++] = v;
  }
  void erase(int i) {
    for (int k = i; k + 1 < n_; ++k) d_[k] = d_[k + 1];
    --n_;
  }
  void insert(int i, int64_t v) {
    push_back(0);
    for (int k = n_ - 1; k > i; --k) d_[k] = d_[k - 1];
    d_[i] = v;
  }
  // Throws when the product overflows int64 (a size read from a corrupt file or an absurd configuration),
  // so no allocation or index is ever computed from a wrapped count.
  int64_t numel() const {
    int64_t p = 1;
    for (int i = 0; i < n_; ++i)
      SP_CHECK(!__builtin_mul_overflow(p, d_[i], &p), "shape ", str(), ": element count overflows int64");
    return p;
  }
  // Wraps a possibly negative axis into [0, n) or throws naming the caller.
  int axis(int a, const char* who) const {
    int r = a < 0 ? a + n_ : a;
    SP_CHECK(r >= 0 && r < n_, who, ": axis ", a, " out of range for ", str());
    return r;
  }
  bool operator==(const Shape& o) const { return n_ == o.n_ && std::equal(begin(), end(), o.begin()); }
  bool operator!=(const Shape& o) const { return !(*this == o); }
  std::string str() const {
    std::string s = "[";
    for (int i = 0; i < n_; ++i) s += (i ? ", " : "") + std::to_string(d_[i]);
    return s + "]";
  }

 private:
  template <class It>
  void assign(It b, It e) {
    n_ = 0;
    for (; b != e; ++b) push_back(int64_t(*b));
  }
  int64_t d_[kMaxDims] = {};
  int n_ = 0;
};

inline std::ostream& operator<<(std::ostream& os, const Shape& s) { return os << s.str(); }

// Row-major (C order) strides for a shape.
inline Shape contiguous_strides(const Shape& s) {
  Shape st = s;
  int64_t acc = 1;
  for (int i = s.size() - 1; i >= 0; --i) {
    st[i] = acc;
    acc *= s[i];
  }
  return st;
}

}  // namespace sp
