// Embedding lookup as a tape op, PyTorch's nn.Embedding: weight [V, D], ids on the host, each in [0, V)
// (else an sp::Error naming "embedding" and the bad id), output [N, D] on weight's device and dtype with
// row n = weight[ids[n]]. Its gradient w.r.t. weight is the adjoint embedding_grad (scatter-add of the
// output-gradient rows, deterministic on every backend), itself an op whose gradient is embedding, so both
// are differentiable to any order (as upsample_nearest / upsample_nearest_grad). Kernels:
// kernels/embedding.h. Tested in tests/test_ops_embedding.cpp (values against a naive loop, first- and
// second-order gradient checks, repeated ids, bad input) and tests/gpu/test_ops_embedding_gpu.cpp.
#pragma once
#include <cstdint>
#include <vector>

#include "nn/tape.h"

namespace sp::ag {

Var embedding(Tape& t, Var weight, const std::vector<int64_t>& ids);
// The adjoint of embedding: grad_out [N, D] -> [num_embeddings, D], row v the sum of the rows n with
// ids[n] == v (zero for ids that do not occur).
Var embedding_grad(Tape& t, Var grad_out, const std::vector<int64_t>& ids, int64_t num_embeddings);

}  // namespace sp::ag
