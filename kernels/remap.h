// Integer per-sample remap over contiguous NCHW tensors (translation with zero fill and horizontal flip,
// see remap_math.h): y = remap(x) + beta * y, or with `inverse` its adjoint. params: i32 [N, 3] rows
// (dy, dx, flip) on the tensors' device; any integer shift is valid (a large one gives zeros), flip is
// nonzero for a flip. Tested in tests/test_ops_augment.cpp and tests/gpu/test_ops_augment_gpu.cpp.
#pragma once
#include "kernels/registry.h"
#include "kernels/remap_math.h"
#include "kernels/tensor.h"

namespace sp {

using RemapFn = void(Stream&, const Tensor& y, const Tensor& x, const Tensor& params, bool inverse, double beta);
extern Kernel<RemapFn> k_remap;

// y and x: the same [N, C, H, W] float shape, dtype and device; params i32 [N, 3]. `op` names the caller.
void remap_forward(Stream& s, const Tensor& y, const Tensor& x, const Tensor& params, bool inverse, double beta,
                   const char* op = "remap");

}  // namespace sp
