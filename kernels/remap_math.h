// Per-element index arithmetic of the integer per-sample remap (DSA's translate/crop and flip), shared by
// kernels/cpu/remap.cpp and kernels/cuda/remap.cu. Sample n has parameters (dy, dx, flip):
//   out(n, c, i, j) = in(n, c, i + dy, (flip ? W - 1 - j : j) + dx), zero where that lies outside the image.
// The map is a partial permutation of pixel positions, so its adjoint is the inverse partial permutation,
// which is the same remap with parameters (-dy, flip ? dx : -dx, flip): `inverse` selects it, so one kernel
// serves both directions. Tested in tests/test_ops_augment.cpp and tests/gpu/test_ops_augment_gpu.cpp.
#pragma once
#include <cstdint>

#include "kernels/hd.h"

namespace sp {

// Flat offset (r * w + col) in the source plane read by output pixel (i, j), or -1 (zero).
SP_HD int64_t remap_source(int64_t i, int64_t j, int64_t h, int64_t w, const int32_t* p, bool inverse) {
  int64_t dy = p[0], dx = p[1];
  const bool flip = p[2] != 0;
  if (inverse) {
    dy = -dy;
    if (!flip) dx = -dx;
  }
  const int64_t r = i + dy, col = (flip ? w - 1 - j : j) + dx;
  return (r < 0 || r >= h || col < 0 || col >= w) ? -1 : r * w + col;
}

}  // namespace sp
