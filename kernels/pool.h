// Pooling kernels over contiguous NCHW or NHWC tensors (Pool2dGeom::layout; global_avg_pool's argument):
// max_pool2d (forward records the argmax per output as a flat index into its input plane; backward routes
// each gradient to it, first maximum on ties), avg_pool2d (count_include_pad=True: every window divides by
// kh*kw, see pool_math.h) and global_avg_pool ([N, C, H, W] or [N, H, W, C] -> [N, C]). Backward kernels
// follow the GradSink rule dx = result + beta * dx. Tested in tests/test_ops_pool.cpp, tests/test_ops_nhwc.cpp
// and tests/gpu/test_ops_pool_gpu.cpp.
#pragma once
#include "kernels/pool_math.h"
#include "kernels/registry.h"
#include "kernels/tensor.h"
#include "kernels/window.h"

namespace sp {

using MaxPool2dFwdFn = void(Stream&, const Tensor& y, const Tensor& arg, const Tensor& x, const Pool2dGeom&);
using MaxPool2dBwdFn = void(Stream&, const Tensor& dx, const Tensor& gy, const Tensor& arg, const Pool2dGeom&,
                            double beta);
using MaxPool2dGatherFn = void(Stream&, const Tensor& y, const Tensor& x, const Tensor& arg, const Pool2dGeom&);
using AvgPool2dFwdFn = void(Stream&, const Tensor& y, const Tensor& x, const Pool2dGeom&);
using AvgPool2dBwdFn = void(Stream&, const Tensor& dx, const Tensor& gy, const Pool2dGeom&, double beta);
using GlobalAvgPoolFwdFn = void(Stream&, const Tensor& y, const Tensor& x, Layout);
using GlobalAvgPoolBwdFn = void(Stream&, const Tensor& dx, const Tensor& gy, double beta, Layout);
extern Kernel<MaxPool2dFwdFn> k_max_pool2d_fwd;
extern Kernel<MaxPool2dBwdFn> k_max_pool2d_bwd;
extern Kernel<MaxPool2dGatherFn> k_max_pool2d_gather;
extern Kernel<AvgPool2dFwdFn> k_avg_pool2d_fwd;
extern Kernel<AvgPool2dBwdFn> k_avg_pool2d_bwd;
extern Kernel<GlobalAvgPoolFwdFn> k_global_avg_pool_fwd;
extern Kernel<GlobalAvgPoolBwdFn> k_global_avg_pool_bwd;

// Validates x (4-D in `layout`, F32/F64) and the window (kernel >= 1, stride >= 1, 0 <= padding <= kernel / 2,
// kernel no larger than the padded input) and returns the geometry. `op` names the caller.
Pool2dGeom pool2d_geometry(const char* op, const Tensor& x, Hw kernel, Hw stride, Hw padding,
                           Layout layout = Layout::nchw);
// The geometry's input and output shapes in its layout.
inline Shape pool_in_shape(const Pool2dGeom& g) { return activation_shape(g.layout, g.n, g.c, g.h, g.w); }
inline Shape pool_out_shape(const Pool2dGeom& g) { return activation_shape(g.layout, g.n, g.c, g.oh, g.ow); }

// y: [N, C, OH, OW] (NHWC: [N, OH, OW, C]) of x's dtype; arg: same shape, I32.
void max_pool2d_forward(Stream& s, const Tensor& y, const Tensor& arg, const Tensor& x, const Pool2dGeom& g);
void max_pool2d_backward(Stream& s, const Tensor& dx, const Tensor& gy, const Tensor& arg, const Pool2dGeom& g,
                         double beta);
// y[o] = x[arg[o]] within each plane: the adjoint of max_pool2d_backward (second-order max pooling).
void max_pool2d_gather(Stream& s, const Tensor& y, const Tensor& x, const Tensor& arg, const Pool2dGeom& g);
void avg_pool2d_forward(Stream& s, const Tensor& y, const Tensor& x, const Pool2dGeom& g);
void avg_pool2d_backward(Stream& s, const Tensor& dx, const Tensor& gy, const Pool2dGeom& g, double beta);
// y: [N, C]; x: [N, C, H, W] or (nhwc) [N, H, W, C].
void global_avg_pool_forward(Stream& s, const Tensor& y, const Tensor& x, Layout layout = Layout::nchw);
void global_avg_pool_backward(Stream& s, const Tensor& dx, const Tensor& gy, double beta,
                              Layout layout = Layout::nchw);

}  // namespace sp
