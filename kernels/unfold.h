// Unfold (im2col) of a batch for per-sample convolution weight gradients. For a conv geometry g (groups 1):
//   out [N, C*kh*kw, OH*OW],  out[n, (c*kh + i)*kw + j, oy*OW + ox] = x[n, c, oy*sh - ph + i*dh, ox*sw - pw + j*dw]
// (0 where the tap falls into the padding), so sample n's weight gradient is one GEMM dY_n [O, OH*OW] x
// out[n]^T, and a batch of them is one strided-batched GEMM. CPU reference kernels/cpu/unfold.cpp (a loop
// nest), CUDA kernels/cuda/unfold.cu (per-element index math, unfold_math.h); tested in
// tests/test_dpsgd_kernels.cpp (both against direct loops) and tests/gpu/test_dpsgd_gpu.cpp.
#pragma once
#include "kernels/conv.h"
#include "kernels/registry.h"
#include "kernels/tensor.h"
#include "kernels/unfold_math.h"

namespace sp {

using UnfoldFn = void(Stream&, const Tensor& out, const Tensor& x, const Conv2dGeom& g);
extern Kernel<UnfoldFn> k_unfold;

// Shape of the unfolded tensor: [n, c * kh * kw, oh * ow].
Shape unfold_shape(const Conv2dGeom& g);
// Validating wrapper: x [N, C, H, W] matching g (groups 1), out of the shape above, both contiguous, same
// dtype and device.
void unfold(Stream& s, const Tensor& out, const Tensor& x, const Conv2dGeom& g);
// The per-element index helper of the CUDA kernel.
UnfoldIndex make_unfold_index(const Conv2dGeom& g);

}  // namespace sp
