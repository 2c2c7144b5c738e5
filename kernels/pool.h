// Pooling kernels over contiguous NCHW tensors: max_pool2d (forward records the argmax per output as a
// flat index into its input plane; backward routes each gradient to it, first maximum on ties),
// avg_pool2d (count_include_pad=True: every window divides by kh*kw, see pool_math.h) and
// global_avg_pool ([N, C, H, W] -> [N, C]). Backward kernels follow the GradSink rule
// dx = result + beta * dx. Tested in tests/test_ops_pool.cpp and tests/gpu/test_ops_pool_gpu.cpp.
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
using GlobalAvgPoolFwdFn = void(Stream&, const Tensor& y, const Tensor& x);
using GlobalAvgPoolBwdFn = void(Stream&, const Tensor& dx, const Tensor& gy, double beta);
extern Kernel<MaxPool2dFwdFn> k_max_pool2d_fwd;
extern Kernel<MaxPool2dBwdFn> k_max_pool2d_bwd;
extern Kernel<MaxPool2dGatherFn> k_max_pool2d_gather;
extern Kernel<AvgPool2dFwdFn> k_avg_pool2d_fwd;
extern Kernel<AvgPool2dBwdFn> k_avg_pool2d_bwd;
extern Kernel<GlobalAvgPoolFwdFn> k_global_avg_pool_fwd;
extern Kernel<GlobalAvgPoolBwdFn> k_global_avg_pool_bwd;

// Validates x (4-D NCHW, F32/F64) and the window (kernel >= 1, stride >= 1, 0 <= padding <= kernel / 2,
// kernel no larger than the padded input) and returns the geometry. `op` names the caller.
Pool2dGeom pool2d_geometry(const char* op, const Tensor& x, Hw kernel, Hw stride, Hw padding);

// y: [N, C, OH, OW] of x's dtype; arg: same shape, I32.
void max_pool2d_forward(Stream& s, const Tensor& y, const Tensor& arg, const Tensor& x, const Pool2dGeom& g);
void max_pool2d_backward(Stream& s, const Tensor& dx, const Tensor& gy, const Tensor& arg, const Pool2dGeom& g,
                         double beta);
// y[o] = x[arg[o]] within each plane: the adjoint of max_pool2d_backward (second-order max pooling).
void max_pool2d_gather(Stream& s, const Tensor& y, const Tensor& x, const Tensor& arg, const Pool2dGeom& g);
void avg_pool2d_forward(Stream& s, const Tensor& y, const Tensor& x, const Pool2dGeom& g);
void avg_pool2d_backward(Stream& s, const Tensor& dx, const Tensor& gy, const Pool2dGeom& g, double beta);
// y: [N, C]; x: [N, C, H, W].
void global_avg_pool_forward(Stream& s, const Tensor& y, const Tensor& x);
void global_avg_pool_backward(Stream& s, const Tensor& dx, const Tensor& gy, double beta);

}  // namespace sp
