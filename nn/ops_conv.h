// Convolution and pooling on the tape, NCHW or channels-last NHWC (the layout is each op's argument; filters
// are [O, C/groups, kh, kw] in both):
//   conv2d(x [N, C, H, W], w [O, C/groups, kh, kw], bias [O] or Var{}, {stride, padding, dilation, groups,
//          layout}) -> [N, O, OH, OW]; with layout nhwc x is [N, H, W, C] and the result [N, OH, OW, O]
//   max_pool2d / avg_pool2d(x, {kernel, stride (0: = kernel), padding, layout}) -> [N, C, OH, OW] (or NHWC)
//     avg_pool2d counts padded positions as zeros (PyTorch count_include_pad=True): divisor kh*kw;
//     max_pool2d sends each output's gradient to its window's first maximum.
//   global_avg_pool(x [N, C, H, W] or, nhwc, [N, H, W, C]) -> [N, C]
// The backward passes are ops too, so gradients are differentiable to any order: conv2d's input gradient
// (conv2d_input_grad, a transposed convolution) and filter gradient (conv2d_weight_grad) are bilinear, and
// conv2d, conv2d_input_grad and conv2d_weight_grad differentiate into one another; avg_pool2d_grad and
// max_pool2d_grad (scatter to the saved argmax) are the pools' adjoints, whose own adjoints are avg_pool2d
// and max_pool2d_gather (read at the saved argmax).
// Kernels: kernels/conv.h, kernels/pool.h, kernels/bias.h. Tested in tests/test_ops_conv.cpp,
// tests/test_ops_pool.cpp, tests/test_ops_nhwc.cpp (each NHWC op against its NCHW twin) and their GPU twins
// in tests/gpu/.
#pragma once
#include "kernels/conv.h"
#include "kernels/pool.h"
#include "kernels/window.h"
#include "nn/tape.h"

namespace sp::ag {

Var conv2d(Tape& t, Var x, Var w, Var bias = {}, const Conv2dParams& p = {});
// d <gy, conv2d(x, w)> / dx for x of the geometry's input shape, and / dw.
Var conv2d_input_grad(Tape& t, Var gy, Var w, const Conv2dGeom& g);
Var conv2d_weight_grad(Tape& t, Var gy, Var x, const Conv2dGeom& g);

struct Pool2dOptions {
  Hw kernel{1};
  Hw stride{0};  // 0: same as kernel
  Hw padding{0};
  Layout layout = Layout::nchw;
};
Var max_pool2d(Tape& t, Var x, const Pool2dOptions& o);
Var avg_pool2d(Tape& t, Var x, const Pool2dOptions& o);
Var global_avg_pool(Tape& t, Var x, Layout layout = Layout::nchw);

// The pools' adjoints (their backward passes as ops): gy [N, C, OH, OW] -> [N, C, H, W] (NHWC likewise).
Var avg_pool2d_grad(Tape& t, Var gy, const Pool2dGeom& g);
// arg: i32 [N, C, OH, OW], each window's argmax (flat index into its [H, W] plane), a constant.
Var max_pool2d_grad(Tape& t, Var gy, const Tensor& arg, const Pool2dGeom& g);
// x [N, C, H, W] -> [N, C, OH, OW]: x read at arg (the adjoint of max_pool2d_grad).
Var max_pool2d_gather(Tape& t, Var x, const Tensor& arg, const Pool2dGeom& g);

}  // namespace sp::ag
