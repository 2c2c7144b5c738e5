// Layout: where the channel axis of a 4-D activation sits, carried as an argument by the ops that care
// (conv2d, batch norm, pooling): nchw ([N, C, H, W], PyTorch's default and the project's) or nhwc
// ([N, H, W, C], channels last, which oneDNN's and cuDNN's fast kernels read without reorders). Parameters
// keep PyTorch's layouts whatever the activations' layout. Tested through tests/test_ops_nhwc.cpp.
#pragma once
#include <cstdint>
#include <ostream>

#include "kernels/shape.h"

namespace sp {

enum class Layout : int64_t { nchw, nhwc };

inline const char* layout_name(Layout l) { return l == Layout::nhwc ? "NHWC" : "NCHW"; }
inline std::ostream& operator<<(std::ostream& os, Layout l) { return os << layout_name(l); }

// The shape of an [n, c, h, w] activation in layout l.
inline Shape activation_shape(Layout l, int64_t n, int64_t c, int64_t h, int64_t w) {
  return l == Layout::nhwc ? Shape{n, h, w, c} : Shape{n, c, h, w};
}

// Axis of the channels of a 4-D activation in layout l.
inline int channel_axis(Layout l) { return l == Layout::nhwc ? 3 : 1; }

}  // namespace sp
