// Log-softmax and softmax along the last axis, numerically stable (the row's maximum m and
// s = sum exp(x - m) come from the online max/sum pair, so exp never sees a positive argument):
//   log_softmax  y = x - m - log s         backward dx = dy - exp(y) * sum(dy)       + beta * dx
//   softmax      y = exp(x - m) / s        backward dx = y * (dy - sum(dy * y))      + beta * dx
// CPU reference kernels/cpu/softmax.cpp, CUDA kernels/cuda/softmax.cu (one warp per row); tested in
// tests/test_ops_loss.cpp and tests/gpu/test_ops_loss_gpu.cpp.
#pragma once
#include "kernels/registry.h"
#include "kernels/tensor.h"

namespace sp {

using LogSoftmaxFwdFn = void(Stream&, const Tensor& y, const Tensor& x);
using LogSoftmaxBwdFn = void(Stream&, const Tensor& dx, const Tensor& dy, const Tensor& y, double beta);
extern Kernel<LogSoftmaxFwdFn> k_log_softmax_fwd;
extern Kernel<LogSoftmaxBwdFn> k_log_softmax_bwd;
using SoftmaxFwdFn = void(Stream&, const Tensor& y, const Tensor& x);
using SoftmaxBwdFn = void(Stream&, const Tensor& dx, const Tensor& dy, const Tensor& y, double beta);
extern Kernel<SoftmaxFwdFn> k_softmax_fwd;
extern Kernel<SoftmaxBwdFn> k_softmax_bwd;

// Validating wrappers: same shapes, floating dtype, contiguous, one device, at least one dim.
void log_softmax_forward(Stream& s, const Tensor& y, const Tensor& x);
void log_softmax_backward(Stream& s, const Tensor& dx, const Tensor& dy, const Tensor& y, double beta);
void softmax_forward(Stream& s, const Tensor& y, const Tensor& x);
// y is the forward output softmax(x).
void softmax_backward(Stream& s, const Tensor& dx, const Tensor& dy, const Tensor& y, double beta);

}  // namespace sp
