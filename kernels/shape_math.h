// Index math of the concat and upsample kernels (SP_HD, shared by both backends): where an element of one
// tensor lands in the other. Tested through tests/test_ops_shape.cpp (values and gradients) and the CPU
// against CUDA comparisons in tests/gpu/test_ops_shape_gpu.cpp.
#pragma once
#include <cstdint>

#include "kernels/hd.h"

namespace sp {

// Concat viewed as [outer, len, inner] parts of an [outer, total, inner] output: part element e (of
// outer * seg, with seg = len * inner contiguous elements per outer row) lands at output element
// concat_out_index(e, seg, col, row), col = start * inner being the part's offset within an output row of
// row = total * inner elements.
SP_HD int64_t concat_out_index(int64_t e, int64_t seg, int64_t col, int64_t row) {
  int64_t q = e / seg;
  return q * row + col + (e - q * seg);
}

// Nearest upsampling of contiguous [P, H, W] planes by (sh, sw): output element e of [P, H*sh, W*sw]
// copies input element upsample_src_index(e, ...).
SP_HD int64_t upsample_src_index(int64_t e, int64_t H, int64_t W, int64_t sh, int64_t sw) {
  int64_t wo = W * sw, ho = H * sh;
  int64_t j = e % wo, t = e / wo;
  int64_t i = t % ho, p = t / ho;
  return (p * H + i / sh) * W + j / sw;
}

// The backward: input element e gathers the sh x sw block of the output gradient it was copied to.
template <class T>
SP_HD T upsample_grad_sum(const T* gy, int64_t e, int64_t H, int64_t W, int64_t sh, int64_t sw) {
  int64_t w = e % W, t = e / W;  // t = p * H + h
  int64_t wo = W * sw;
  const T* block = gy + t * sh * wo + w * sw;  // output row p * H * sh + h * sh = t * sh, column w * sw
  T acc = T(0);
  for (int64_t a = 0; a < sh; ++a)
    for (int64_t b = 0; b < sw; ++b) acc += block[a * wo + b];
  return acc;
}

}  // namespace sp
