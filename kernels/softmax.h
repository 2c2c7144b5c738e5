// Log-softmax along the last axis (numerically stable: y = x - max - log sum exp(x - max)) and its
// backward dx = dy - softmax(x) * sum(dy). CPU reference kernels/cpu/softmax.cpp, CUDA
// kernels/cuda/softmax.cu (one warp per row); tested in tests/test_ops_loss.cpp and
// tests/gpu/test_ops_loss_gpu.cpp.
#pragma once
#include "kernels/registry.h"
#include "kernels/tensor.h"

namespace sp {

using LogSoftmaxFwdFn = void(Stream&, const Tensor& y, const Tensor& x);
using LogSoftmaxBwdFn = void(Stream&, const Tensor& dx, const Tensor& dy, const Tensor& y, double beta);
extern Kernel<LogSoftmaxFwdFn> k_log_softmax_fwd;
extern Kernel<LogSoftmaxBwdFn> k_log_softmax_bwd;

// Validating wrappers: same shapes, floating dtype, contiguous, one device, at least one dim.
void log_softmax_forward(Stream& s, const Tensor& y, const Tensor& x);
void log_softmax_backward(Stream& s, const Tensor& dx, const Tensor& dy, const Tensor& y, double beta);

}  // namespace sp
