// Per-channel bias for linear and conv2d outputs, viewed as [outer, C, inner] around channel axis 1
// ([N, out] has inner 1; [N, O, H, W] has inner H*W):
//   forward   y[o, c, i] += b[c]
//   backward  db[c] = sum_{o,i} gy[o, c, i] + beta * db[c]   (beta 0 never reads db)
// f32 and f64 on both backends; the CPU sums in double, CUDA in two passes (per-slice partials, then a
// per-channel total) without atomics, so results are deterministic. Tested through linear/conv2d bias
// gradients in tests/test_ops_matmul.cpp, tests/test_ops_conv.cpp and their GPU twins.
#pragma once
#include "kernels/registry.h"
#include "kernels/tensor.h"

namespace sp {

using ChannelBiasFwdFn = void(Stream&, const Tensor& y, const Tensor& b, int64_t outer, int64_t channels,
                              int64_t inner);
using ChannelBiasBwdFn = void(Stream&, const Tensor& db, const Tensor& gy, int64_t outer, int64_t channels,
                              int64_t inner, double beta);
extern Kernel<ChannelBiasFwdFn> k_channel_bias_fwd;
extern Kernel<ChannelBiasBwdFn> k_channel_bias_bwd;

// y (>= 2-D, contiguous) += b broadcast along axis 1; b is [y.size(1)]. `op` names the caller.
void channel_bias_add(Stream& s, const Tensor& y, const Tensor& b, const char* op);
// db = sum of gy over every axis but 1, + beta * db.
void channel_bias_grad(Stream& s, const Tensor& db, const Tensor& gy, double beta, const char* op);

}  // namespace sp
