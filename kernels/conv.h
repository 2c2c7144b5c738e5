// 2-D convolution (cross-correlation, as PyTorch) over contiguous NCHW or NHWC (channels-last) tensors:
//   x [N, C, H, W], w [O, C/groups, kh, kw] -> y [N, O, OH, OW]   (layout nchw)
//   x [N, H, W, C], w [O, C/groups, kh, kw] -> y [N, OH, OW, O]   (layout nhwc: filters keep PyTorch's layout),
//   OH = (H + 2 ph - dh (kh - 1) - 1) / sh + 1 (likewise OW),
// with any kernel size, stride, padding, dilation and groups, f32 and f64. Three kernels, as cuDNN:
// forward, backward data (dx) and backward filter (dw); the backward ones follow the GradSink rule
// out = result + beta * out. CPU: im2col + CBLAS GEMM over chunks of images (kernels/cpu/conv.cpp);
// CUDA: cuDNN with cached descriptors and algorithms (kernels/cuda/conv.cpp). Bias lives in bias.h.
// The CPU reference runs NHWC by permuting to NCHW around its loops; oneDNN and cuDNN read NHWC natively.
// Tested in tests/test_ops_conv.cpp (against direct loops), tests/test_ops_nhwc.cpp (NHWC against NCHW) and
// tests/gpu/test_ops_conv_gpu.cpp.
#pragma once
#include "kernels/layout.h"
#include "kernels/registry.h"
#include "kernels/tensor.h"
#include "kernels/window.h"

namespace sp {

struct Conv2dParams {
  Hw stride{1}, padding{0}, dilation{1};
  int64_t groups = 1;
  Layout layout = Layout::nchw;  // of the input and output activations
};

struct Conv2dGeom {
  int64_t n = 0, c = 0, h = 0, w = 0;  // input
  int64_t o = 0, kh = 0, kw = 0;       // filters
  int64_t sh = 1, sw = 1, ph = 0, pw = 0, dh = 1, dw = 1, groups = 1;
  int64_t oh = 0, ow = 0;  // output
  Layout layout = Layout::nchw;
  Shape x_shape() const { return activation_shape(layout, n, c, h, w); }
  Shape w_shape() const { return {o, c / groups, kh, kw}; }
  Shape y_shape() const { return activation_shape(layout, n, o, oh, ow); }
  bool operator==(const Conv2dGeom&) const = default;
};

using Conv2dFwdFn = void(Stream&, const Tensor& y, const Tensor& x, const Tensor& w, const Conv2dGeom&);
using Conv2dBwdDataFn = void(Stream&, const Tensor& dx, const Tensor& gy, const Tensor& w, const Conv2dGeom&,
                             double beta);
using Conv2dBwdFilterFn = void(Stream&, const Tensor& dw, const Tensor& gy, const Tensor& x, const Conv2dGeom&,
                               double beta);
extern Kernel<Conv2dFwdFn> k_conv2d_fwd;
extern Kernel<Conv2dBwdDataFn> k_conv2d_bwd_data;
extern Kernel<Conv2dBwdFilterFn> k_conv2d_bwd_filter;

// Validates x and w (ranks, dtypes, devices, channels vs groups, kernel within the padded input) and
// returns the geometry; errors name "conv2d" and both shapes.
Conv2dGeom conv2d_geometry(const Tensor& x, const Tensor& w, const Conv2dParams& p);

void conv2d_forward(Stream& s, const Tensor& y, const Tensor& x, const Tensor& w, const Conv2dGeom& g);
void conv2d_backward_data(Stream& s, const Tensor& dx, const Tensor& gy, const Tensor& w, const Conv2dGeom& g,
                          double beta);
void conv2d_backward_filter(Stream& s, const Tensor& dw, const Tensor& gy, const Tensor& x, const Conv2dGeom& g,
                            double beta);

// Multiply-adds of one forward pass (each of the two backward passes costs the same); x2 for FLOPs.
inline int64_t conv2d_macs(const Conv2dGeom& g) { return g.n * g.o * g.oh * g.ow * (g.c / g.groups) * g.kh * g.kw; }

}  // namespace sp
