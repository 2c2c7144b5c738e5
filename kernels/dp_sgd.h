// The per-step kernels of DP-SGD (paradigms/dpsgd/dp_trainer.h) besides GEMMs and reductions:
//   row_sq_norm:    out[b] = sum_j g[b, j]^2 + beta * out[b]     (g [B, n]; squared per-example norms, summed
//                   layer by layer with beta 1; accumulated in f64)
//   clip_factors:   f[b] = min(1, C / (sqrt(sq[b]) + 1e-6) (1 - m))  (Opacus's flat clipping, lowered by the
//                   rounding margin m of dp_sgd_math.h so that every f[b] g[b] formed in the stored type has norm <= C)
//   gaussian_noise: y[i] += stddev * z_i, z_i ~ N(0, 1) from Philox keyed by (key, stream id), element i
//                   taking value i % 2 of pair i / 2 (dp_sgd_math.h): the same noise on every backend,
//                   independent of launch geometry.
// CPU reference kernels/cpu/dp_sgd.cpp, CUDA kernels/cuda/dp_sgd.cu; tested in tests/test_dpsgd_kernels.cpp
// and tests/gpu/test_dpsgd_gpu.cpp.
#pragma once
#include "kernels/registry.h"
#include "kernels/tensor.h"

namespace sp {

using RowSqNormFn = void(Stream&, const Tensor& out, const Tensor& g, double beta);
using ClipFactorsFn = void(Stream&, const Tensor& factors, const Tensor& sq_norms, double clip_norm);
using GaussianNoiseFn = void(Stream&, const Tensor& y, double stddev, uint64_t key, uint64_t stream_id);
extern Kernel<RowSqNormFn> k_row_sq_norm;
extern Kernel<ClipFactorsFn> k_clip_factors;
extern Kernel<GaussianNoiseFn> k_gaussian_noise;

// Validating wrappers. out, factors, sq_norms: contiguous [B] of g's dtype; g contiguous [B, n].
void row_sq_norm(Stream& s, const Tensor& out, const Tensor& g, double beta);
void clip_factors(Stream& s, const Tensor& factors, const Tensor& sq_norms, double clip_norm);
// y contiguous floating; stddev >= 0 and finite.
void add_gaussian_noise(Stream& s, const Tensor& y, double stddev, uint64_t key, uint64_t stream_id);

}  // namespace sp
