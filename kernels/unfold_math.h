// Index math of the per-example unfold (kernels/unfold.h), written once for both backends: the source
// element of one output element, or -1 for a padding tap.
#pragma once
#include <cstdint>

#include "kernels/fast_div.h"
#include "kernels/hd.h"

namespace sp {

struct UnfoldIndex {
  // Sizes.
  int64_t b = 0, c = 0, h = 0, w = 0;  // examples per copy, channels, input height and width
  int64_t kh = 0, kw = 0, oh = 0, ow = 0;
  int64_t sh = 1, sw = 1, ph = 0, pw = 0, dh = 1, dw = 1;
  // Divisors of the output index: columns per row (copies * oh * ow), rows per example (c * kh * kw),
  // oh * ow, ow, kh * kw, kw.
  IndexDiv cols, rows, plane, out_w, taps, tap_w;

  // Offset into x (contiguous [copies * b, c, h, w]) of output element `idx`, or -1 (padding).
  SP_HD int64_t source(int64_t idx) const {
    const int64_t row_all = cols.div(idx), col = idx - row_all * cols.d;
    const int64_t e = rows.div(row_all), row = row_all - e * rows.d;
    const int64_t k = plane.div(col), p = col - k * plane.d;
    const int64_t oy = out_w.div(p), ox = p - oy * out_w.d;
    const int64_t ch = taps.div(row), tap = row - ch * taps.d;
    const int64_t i = tap_w.div(tap), j = tap - i * tap_w.d;
    const int64_t iy = oy * sh - ph + i * dh, ix = ox * sw - pw + j * dw;
    if (iy < 0 || iy >= h || ix < 0 || ix >= w) return -1;
    return (((k * b + e) * c + ch) * h + iy) * w + ix;
  }
};

}  // namespace sp
