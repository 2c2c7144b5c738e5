// Per-element arithmetic of affine_grid and bilinear grid_sample (zero padding), shared by
// kernels/cpu/grid_sample.cpp and kernels/cuda/grid_sample.cu so the CPU tests cover what the GPU runs.
// Semantics are PyTorch's (torch.nn.functional.affine_grid / grid_sample, mode='bilinear',
// padding_mode='zeros'): grid coordinates are in [-1, 1], x (the last grid component) along W and y along H;
// align_corners=True maps -1 and 1 to the centres of the corner pixels, False to their outer edges.
// Tested in tests/test_ops_augment.cpp (against direct f64 formulas) and tests/gpu/test_ops_augment_gpu.cpp.
#pragma once
#include <cmath>
#include <cstdint>

#include "kernels/hd.h"

namespace sp {

// Shapes of one grid_sample: input [n, c, h, w], grid [n, oh, ow, 2], output [n, c, oh, ow].
struct GridSampleGeom {
  int64_t n = 0, c = 0, h = 0, w = 0;
  int64_t oh = 0, ow = 0;
  bool align_corners = false;
};

// The normalised coordinate of pixel i of `size` along one axis of affine_grid's base grid (PyTorch's
// linspace(-1, 1, size), scaled by (size - 1) / size without align_corners; a single pixel sits at 0).
template <class T>
SP_HD T affine_base_coord(int64_t i, int64_t size, bool align_corners) {
  if (size <= 1) return T(0);
  T step = T(2) / T(size - 1);
  // Like torch.linspace: the first half counts up from -1, the second half down from 1 (symmetric, exact ends).
  T v = 2 * i < size ? T(-1) + step * T(i) : T(1) - step * T(size - 1 - i);
  return align_corners ? v : v * T(size - 1) / T(size);
}

// Grid point (i, j) of sample `theta` ([2, 3] row-major): theta @ (x_j, y_i, 1), summed in that order.
template <class T>
SP_HD void affine_grid_point(const T* theta, int64_t i, int64_t j, int64_t h, int64_t w, bool align_corners, T* gx,
                             T* gy) {
  T x = affine_base_coord<T>(j, w, align_corners), y = affine_base_coord<T>(i, h, align_corners);
  *gx = theta[0] * x + theta[1] * y + theta[2];
  *gy = theta[3] * x + theta[4] * y + theta[5];
}

// floor per type (floorf for float, so device code never widens to double).
SP_HD float gs_floor(float v) { return floorf(v); }
SP_HD double gs_floor(double v) { return floor(v); }

// A normalised grid coordinate to a pixel coordinate along an axis of `size` pixels.
template <class T>
SP_HD T grid_unnormalize(T g, int64_t size, bool align_corners) {
  return align_corners ? (g + T(1)) / T(2) * T(size - 1) : ((g + T(1)) * T(size) - T(1)) / T(2);
}

// The four bilinear taps of one sampling point: corner (y0 + dy, x0 + dx) has weight wt[2 dy + dx]
// (order nw, ne, sw, se, as PyTorch accumulates them); off[k] is its flat offset in the plane, or -1 when
// the corner lies outside the image (zero padding: the tap contributes nothing).
template <class T>
struct BilinearTaps {
  int64_t off[4];
  T wt[4];
};

template <class T>
SP_HD BilinearTaps<T> bilinear_taps(T gx, T gy, int64_t h, int64_t w, bool align_corners) {
  T ix = grid_unnormalize(gx, w, align_corners), iy = grid_unnormalize(gy, h, align_corners);
  T fx = gs_floor(ix), fy = gs_floor(iy);
  BilinearTaps<T> t;
  T wx1 = ix - fx, wx0 = (fx + T(1)) - ix, wy1 = iy - fy, wy0 = (fy + T(1)) - iy;
  t.wt[0] = wx0 * wy0;
  t.wt[1] = wx1 * wy0;
  t.wt[2] = wx0 * wy1;
  t.wt[3] = wx1 * wy1;
  // Compare in T before converting: a far-away (or NaN) coordinate must not overflow an int64.
  for (int k = 0; k < 4; ++k) {
    T cx = fx + T(k & 1), cy = fy + T(k >> 1);
    bool inside = cx >= T(0) && cx <= T(w - 1) && cy >= T(0) && cy <= T(h - 1);
    t.off[k] = inside ? int64_t(cy) * w + int64_t(cx) : -1;
  }
  return t;
}

// One output value: the taps applied to one input plane.
template <class T>
SP_HD T bilinear_sample(const T* plane, const BilinearTaps<T>& t) {
  T acc = T(0);
  for (int k = 0; k < 4; ++k)
    if (t.off[k] >= 0) acc += plane[t.off[k]] * t.wt[k];
  return acc;
}

}  // namespace sp
