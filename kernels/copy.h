// Core data-movement kernels every backend provides: strided copy with dtype conversion (the basis of
// contiguous(), casts and bf16/f16 storage) and fill. Tested in tests/test_tensor.cpp and, CPU against
// CUDA, in tests/gpu/test_tensor_gpu.cpp.
#pragma once
#include "kernels/registry.h"
#include "kernels/tensor.h"

namespace sp {

// dst and src: same shape, same device, any strides and dtypes. Outputs are passed as const handles; the
// elements they point at are written.
using CopyFn = void(Stream&, const Tensor& dst, const Tensor& src);
using FillFn = void(Stream&, const Tensor& dst, double value);
extern Kernel<CopyFn> k_copy;
extern Kernel<FillFn> k_fill;

}  // namespace sp
