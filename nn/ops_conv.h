// Convolution and pooling on the tape, NCHW:
//   conv2d(x [N, C, H, W], w [O, C/groups, kh, kw], bias [O] or Var{}, {stride, padding, dilation, groups})
//   max_pool2d / avg_pool2d(x, {kernel, stride (0: = kernel), padding}) -> [N, C, OH, OW]
//     avg_pool2d counts padded positions as zeros (PyTorch count_include_pad=True): divisor kh*kw;
//     max_pool2d sends each output's gradient to its window's first maximum.
//   global_avg_pool(x [N, C, H, W]) -> [N, C]
// Kernels: kernels/conv.h, kernels/pool.h, kernels/bias.h. Tested in tests/test_ops_conv.cpp,
// tests/test_ops_pool.cpp and their GPU twins in tests/gpu/.
#pragma once
#include "kernels/conv.h"
#include "kernels/window.h"
#include "nn/tape.h"

namespace sp::ag {

Var conv2d(Tape& t, Var x, Var w, Var bias = {}, const Conv2dParams& p = {});

struct Pool2dOptions {
  Hw kernel{1};
  Hw stride{0};  // 0: same as kernel
  Hw padding{0};
};
Var max_pool2d(Tape& t, Var x, const Pool2dOptions& o);
Var avg_pool2d(Tape& t, Var x, const Pool2dOptions& o);
Var global_avg_pool(Tape& t, Var x);

}  // namespace sp::ag
