// Per-element pooling arithmetic shared by the CPU reference (kernels/cpu/pool.cpp) and the CUDA kernels
// (kernels/cuda/pool.cu): one output window forward, and the gradient reaching one input element
// (gathered from every window that covers it, so backward needs no atomics). Windows never extend past
// the padded input (no ceil mode) and padding is at most half the kernel, so every window holds a real
// element. Average pooling counts padded positions (PyTorch's count_include_pad=True): divisor kh*kw.
// A plane (one image's channel) is read with a step: 1 in NCHW, C in NHWC (channels last), where plane
// n * C + c starts at element n * H * W * C + c. Argmax indices stay flat positions ih * w + iw in the plane.
// Tested through tests/test_ops_pool.cpp, tests/test_ops_nhwc.cpp and tests/gpu/test_ops_pool_gpu.cpp.
#pragma once
#include <cstdint>

#include "kernels/hd.h"
#include "kernels/layout.h"

namespace sp {

struct Pool2dGeom {
  int64_t n = 0, c = 0, h = 0, w = 0;  // input
  int64_t kh = 1, kw = 1, sh = 1, sw = 1, ph = 0, pw = 0;
  int64_t oh = 0, ow = 0;  // output
  Layout layout = Layout::nchw;
  SP_HD int64_t step() const { return layout == Layout::nhwc ? c : 1; }
  // Offset of plane p = n * C + c in a tensor of this geometry's layout with planes of h x w.
  SP_HD int64_t plane(int64_t p, int64_t ph, int64_t pw) const {
    return layout == Layout::nhwc ? (p / c) * ph * pw * c + p % c : p * ph * pw;
  }
  // Element k of such a tensor as plane p and position (i, j).
  SP_HD void position(int64_t k, int64_t ph, int64_t pw, int64_t* p, int64_t* i, int64_t* j) const {
    if (layout == Layout::nhwc) {
      int64_t ch = k % c, rest = k / c;
      *j = rest % pw, rest /= pw, *i = rest % ph;
      *p = rest / ph * c + ch;
    } else {
      *j = k % pw;
      int64_t rest = k / pw;
      *i = rest % ph, *p = rest / ph;
    }
  }
};

// Max over window (oh, ow) of one [h, w] plane; *arg gets the flat index (ih * w + iw) of the first
// maximum in row-major window order. NaN counts as the maximum, like PyTorch.
template <class T>
SP_HD T max_pool_window(const T* plane, const Pool2dGeom& g, int64_t oh, int64_t ow, int32_t* arg) {
  int64_t h0 = oh * g.sh - g.ph, w0 = ow * g.sw - g.pw;
  int64_t hb = h0 < 0 ? 0 : h0, he = h0 + g.kh < g.h ? h0 + g.kh : g.h;
  int64_t wb = w0 < 0 ? 0 : w0, we = w0 + g.kw < g.w ? w0 + g.kw : g.w;
  const int64_t st = g.step();
  T best = plane[(hb * g.w + wb) * st];
  int64_t best_at = hb * g.w + wb;
  for (int64_t ih = hb; ih < he; ++ih)
    for (int64_t iw = wb; iw < we; ++iw) {
      T v = plane[(ih * g.w + iw) * st];
      if (v > best || (v != v && best == best)) {
        best = v;
        best_at = ih * g.w + iw;
      }
    }
  *arg = int32_t(best_at);
  return best;
}

// Mean over window (oh, ow), padding counted as zeros.
template <class T>
SP_HD T avg_pool_window(const T* plane, const Pool2dGeom& g, int64_t oh, int64_t ow) {
  int64_t h0 = oh * g.sh - g.ph, w0 = ow * g.sw - g.pw;
  int64_t hb = h0 < 0 ? 0 : h0, he = h0 + g.kh < g.h ? h0 + g.kh : g.h;
  int64_t wb = w0 < 0 ? 0 : w0, we = w0 + g.kw < g.w ? w0 + g.kw : g.w;
  const int64_t st = g.step();
  T sum = 0;
  for (int64_t ih = hb; ih < he; ++ih)
    for (int64_t iw = wb; iw < we; ++iw) sum += plane[(ih * g.w + iw) * st];
  return sum / T(g.kh * g.kw);
}

// Output windows covering input coordinate i along one axis: [*lo, *hi] (empty when lo > hi).
SP_HD void pool_windows_covering(int64_t i, int64_t k, int64_t stride, int64_t pad, int64_t out, int64_t* lo,
                                 int64_t* hi) {
  int64_t first = i + pad - k + 1;  // window o covers i when o*stride - pad <= i <= o*stride - pad + k - 1
  *lo = first <= 0 ? 0 : (first + stride - 1) / stride;
  int64_t last = (i + pad) / stride;
  *hi = last < out - 1 ? last : out - 1;
}

// d loss / d x[ih, iw] of one plane: the sum of gy over windows whose argmax is this element.
template <class T>
SP_HD T max_pool_grad_at(const T* gy_plane, const int32_t* arg_plane, const Pool2dGeom& g, int64_t ih, int64_t iw) {
  int64_t ohl, ohh, owl, owh;
  pool_windows_covering(ih, g.kh, g.sh, g.ph, g.oh, &ohl, &ohh);
  pool_windows_covering(iw, g.kw, g.sw, g.pw, g.ow, &owl, &owh);
  int32_t self = int32_t(ih * g.w + iw);
  const int64_t st = g.step();
  T sum = 0;
  for (int64_t oh = ohl; oh <= ohh; ++oh)
    for (int64_t ow = owl; ow <= owh; ++ow)
      if (arg_plane[(oh * g.ow + ow) * st] == self) sum += gy_plane[(oh * g.ow + ow) * st];
  return sum;
}

// d loss / d x[ih, iw] of one plane for average pooling: every covering window contributes gy / (kh*kw).
// Output (oh, ow) of one plane read at its saved argmax: the adjoint of max_pool_grad_at (max_pool2d_gather).
template <class T>
SP_HD T max_pool_gather_at(const T* x_plane, const int32_t* arg_plane, const Pool2dGeom& g, int64_t oh, int64_t ow) {
  const int64_t st = g.step();
  return x_plane[arg_plane[(oh * g.ow + ow) * st] * st];
}

template <class T>
SP_HD T avg_pool_grad_at(const T* gy_plane, const Pool2dGeom& g, int64_t ih, int64_t iw) {
  int64_t ohl, ohh, owl, owh;
  pool_windows_covering(ih, g.kh, g.sh, g.ph, g.oh, &ohl, &ohh);
  pool_windows_covering(iw, g.kw, g.sw, g.pw, g.ow, &owl, &owh);
  const int64_t st = g.step();
  T sum = 0;
  for (int64_t oh = ohl; oh <= ohh; ++oh)
    for (int64_t ow = owl; ow <= owh; ++ow) sum += gy_plane[(oh * g.ow + ow) * st];
  return sum / T(g.kh * g.kw);
}

// Gradient written with the GradSink rule: *dst = result + beta * *dst; beta 0 never reads *dst.
template <class T>
SP_HD void sink_write(T* dst, T result, T beta) {
  *dst = beta == T(0) ? result : result + beta * *dst;
}

}  // namespace sp
