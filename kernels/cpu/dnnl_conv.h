// float32 conv2d on oneDNN (forward, backward data, backward filter) over the project's plain NCHW or NHWC
// activations (Conv2dGeom::layout) and OIHW filters: the CPU fast path that kernels/cpu/conv.cpp routes
// float32 to when the build has oneDNN and cpu::fast_path() is on. Checked against the float64 reference in
// tests/test_cpu_fast_path.cpp and, channels-last, tests/test_ops_nhwc.cpp.
#pragma once
#include "kernels/conv.h"

namespace sp::cpu {

void dnnl_conv_fwd(const float* x, const float* w, float* y, const Conv2dGeom& g);
// dx = conv2d_backward_data + beta * dx, dw = conv2d_backward_filter + beta * dw.
void dnnl_conv_bwd_data(const float* gy, const float* w, float* dx, const Conv2dGeom& g, float beta);
void dnnl_conv_bwd_filter(const float* gy, const float* x, float* dw, const Conv2dGeom& g, float beta);

}  // namespace sp::cpu
