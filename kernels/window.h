// Hw: a (height, width) pair for kernel sizes, strides, paddings and dilations of conv2d and pooling.
// Converts implicitly from one integer (square), so options read `{.stride = 2, .padding = 1}`.
#pragma once
#include <cstdint>
#include <ostream>

namespace sp {

struct Hw {
  int64_t h = 0, w = 0;
  constexpr Hw() = default;
  constexpr Hw(int64_t v) : h(v), w(v) {}  // NOLINT: implicit by design
  constexpr Hw(int64_t h_, int64_t w_) : h(h_), w(w_) {}
  bool operator==(const Hw&) const = default;
};
inline std::ostream& operator<<(std::ostream& os, const Hw& p) { return os << "(" << p.h << ", " << p.w << ")"; }

}  // namespace sp
