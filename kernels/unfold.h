// Per-example unfold (im2col) for per-sample convolution weight gradients. For a batch of K augmented copies
// of B examples laid out copy-major (sample n = k * B + e) and a conv geometry g (groups 1):
//   out [B, C*kh*kw, K*OH*OW],
//   out[e, (c*kh + i)*kw + j, k*OH*OW + oy*OW + ox] = x[k*B + e, c, oy*sh - ph + i*dh, ox*sw - pw + j*dw]
// (0 where the tap falls into the padding). Example e's weight gradient summed over its K copies is then one
// GEMM: dY_e [O, K*OH*OW] x out[e]^T. Index math: unfold_math.h. CPU reference kernels/cpu/unfold.cpp, CUDA
// kernels/cuda/unfold.cu; tested in tests/test_dpsgd_kernels.cpp (against direct loops) and
// tests/gpu/test_dpsgd_kernels_gpu.cpp.
#pragma once
#include "kernels/conv.h"
#include "kernels/registry.h"
#include "kernels/tensor.h"
#include "kernels/unfold_math.h"

namespace sp {

using UnfoldPerExampleFn = void(Stream&, const Tensor& out, const Tensor& x, const Conv2dGeom& g, int64_t copies);
extern Kernel<UnfoldPerExampleFn> k_unfold_per_example;

// Shape of the unfolded tensor: [n / copies, c * kh * kw, copies * oh * ow].
Shape unfold_per_example_shape(const Conv2dGeom& g, int64_t copies);
// Validating wrapper: x [N, C, H, W] matching g (groups 1), N divisible by copies, out of the shape above,
// both contiguous, same dtype and device.
void unfold_per_example(Stream& s, const Tensor& out, const Tensor& x, const Conv2dGeom& g, int64_t copies);
// The index helper both backends iterate with.
UnfoldIndex make_unfold_index(const Conv2dGeom& g, int64_t copies);

}  // namespace sp
