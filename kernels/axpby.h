// y = a * x + b * y over two contiguous tensors of one shape and floating dtype. The workhorse of
// gradient accumulation (b = GradSink::beta) and of scale(). b = 0 never reads y, so y may be
// uninitialised. Tested in tests/test_ops_scale.cpp and tests/gpu/test_ops_scale_gpu.cpp.
#pragma once
#include "kernels/registry.h"
#include "kernels/tensor.h"

namespace sp {

using AxpbyFn = void(Stream&, const Tensor& y, const Tensor& x, double a, double b);
extern Kernel<AxpbyFn> k_axpby;

// Validating wrapper: shapes, dtypes, devices, contiguity.
void axpby(Stream& s, const Tensor& y, const Tensor& x, double a, double b);

}  // namespace sp
