// Nearest-neighbour upsampling of NCHW tensors by integer factors (sh, sw) and its backward (each input
// element receives the sum of its sh x sw output block). Contiguous tensors, f32/f64. Index math:
// kernels/shape_math.h. Tested in tests/test_ops_shape.cpp and tests/gpu/test_ops_shape_gpu.cpp.
#pragma once
#include "kernels/registry.h"
#include "kernels/tensor.h"

namespace sp {

// y[n, c, i, j] = x[n, c, i / sh, j / sw]; y is [N, C, H*sh, W*sw].
using UpsampleFn = void(Stream&, const Tensor& y, const Tensor& x, int64_t sh, int64_t sw);
// gx[n, c, h, w] = sum of gy over the block [h*sh, h*sh + sh) x [w*sw, w*sw + sw), + beta * gx.
using UpsampleBackwardFn = void(Stream&, const Tensor& gx, const Tensor& gy, int64_t sh, int64_t sw, double beta);
extern Kernel<UpsampleFn> k_upsample_nearest;
extern Kernel<UpsampleBackwardFn> k_upsample_nearest_backward;

// Output shape for input x; throws unless x is 4-D and sh, sw >= 1.
Shape upsample_nearest_shape(const Shape& x, int64_t sh, int64_t sw);
// Validating wrappers.
void upsample_nearest(Stream& s, const Tensor& y, const Tensor& x, int64_t sh, int64_t sw);
void upsample_nearest_backward(Stream& s, const Tensor& gx, const Tensor& gy, int64_t sh, int64_t sw, double beta);

}  // namespace sp
