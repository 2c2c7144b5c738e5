// Embedding lookup (gather of weight rows) and its adjoint (scatter-add of output-gradient rows into a
// weight-shaped gradient), for weight [V, D] (PyTorch's nn.Embedding layout) and int64 ids [N] on the
// weight's device:
//   embedding           y[n, d] = weight[ids[n], d]                                   y [N, D]
//   embedding_backward  gw[v, d] = sum over n with ids[n] == v of gy[n, d], in ascending n, + beta * gw
// Both backends sum each gw element over n in the same fixed order (CUDA: one thread per (v, d) walking
// all N ids, no atomics), so the result is deterministic; the cost is V * D * N, meant for small V (time
// steps' or class embeddings). Ids on the CPU are range-checked here; on CUDA (no host sync) an id outside
// [0, V) gives a NaN row forward and no contribution backward. CPU reference kernels/cpu/embedding.cpp,
// CUDA kernels/cuda/embedding.cu; tested in tests/test_ops_embedding.cpp and
// tests/gpu/test_ops_embedding_gpu.cpp.
#pragma once
#include "kernels/registry.h"
#include "kernels/tensor.h"

namespace sp {

using EmbeddingFn = void(Stream&, const Tensor& y, const Tensor& weight, const Tensor& ids);
using EmbeddingBackwardFn = void(Stream&, const Tensor& gw, const Tensor& gy, const Tensor& ids, double beta);
extern Kernel<EmbeddingFn> k_embedding;
extern Kernel<EmbeddingBackwardFn> k_embedding_backward;

// Validating wrappers: weight / gw contiguous f32 or f64 [V, D] on the stream's device; ids contiguous
// int64 [N] on the same device; y / gy contiguous [N, D] of the same dtype.
void embedding_forward(Stream& s, const Tensor& y, const Tensor& weight, const Tensor& ids);
void embedding_backward(Stream& s, const Tensor& gw, const Tensor& gy, const Tensor& ids, double beta);

}  // namespace sp
