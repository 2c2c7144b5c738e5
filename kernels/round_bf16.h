// y = round_bf16(x) + beta * y over two contiguous tensors of one shape, f32 or f64 (kernels/round_bf16_math.h):
// the emulated bf16 storage of precision "bf16", forward (activations, weights) and backward (their
// gradients, summed with beta 1 in the storage type). beta 0 never reads y. CPU reference
// kernels/cpu/round_bf16.cpp, CUDA kernels/cuda/round_bf16.cu; tested in tests/test_ops_precision.cpp and
// tests/gpu/test_ops_precision_gpu.cpp.
#pragma once
#include "kernels/registry.h"
#include "kernels/tensor.h"

namespace sp {

using RoundBf16Fn = void(Stream&, const Tensor& y, const Tensor& x, double beta);
extern Kernel<RoundBf16Fn> k_round_bf16;

// Validating wrapper: shapes, dtypes (f32/f64), devices, contiguity.
void round_bf16(Stream& s, const Tensor& y, const Tensor& x, double beta = 0.0);

}  // namespace sp
