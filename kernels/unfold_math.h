// Per-element index math of the unfold (kernels/unfold.h) for the CUDA kernel: the source element of one
// output element, or -1 for a padding tap. Host-callable too: tests/test_dpsgd_kernels.cpp checks it against
// direct loops, and tests/gpu/test_dpsgd_gpu.cpp the CUDA result against the CPU loop nest bit for bit.
#pragma once
#include <cstdint>

#include "kernels/fast_div.h"
#include "kernels/hd.h"

namespace sp {

struct UnfoldIndex {
  int64_t c = 0, h = 0, w = 0;  // input channels, height, width
  int64_t sh = 1, sw = 1, ph = 0, pw = 0, dh = 1, dw = 1;
  // Divisors of the output index: positions per row (oh * ow), rows per sample (c * kh * kw), ow,
  // kh * kw, kw.
  IndexDiv plane, rows, out_w, taps, tap_w;

  // Offset into x (contiguous [n, c, h, w]) of output element `idx`, or -1 (padding).
  SP_HD int64_t source(int64_t idx) const {
    const int64_t row_all = plane.div(idx), p = idx - row_all * plane.d;
    const int64_t n = rows.div(row_all), row = row_all - n * rows.d;
    const int64_t oy = out_w.div(p), ox = p - oy * out_w.d;
    const int64_t ch = taps.div(row), tap = row - ch * taps.d;
    const int64_t i = tap_w.div(tap), j = tap - i * tap_w.d;
    const int64_t iy = oy * sh - ph + i * dh, ix = ox * sw - pw + j * dw;
    if (iy < 0 || iy >= h || ix < 0 || ix >= w) return -1;
    return ((n * c + ch) * h + iy) * w + ix;
  }
};

}  // namespace sp
