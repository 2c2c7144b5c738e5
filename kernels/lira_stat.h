// The LiRA statistic as one fused kernel: logits [N, A, C] (f32 or f64; N samples, A query views, C classes)
// and labels [N] (int64) to phi [N, A] (f64), phi = z_y - logsumexp_{j != y} z_j (logit) or
// z_y - max_{j != y} z_j (hinge), each row read once, with the per-row math of kernels/lira_stat_math.h
// (the same function sp_lira uses on the host). A label outside [0, C) or a non-finite logit gives NaN (the
// GPU cannot throw; callers check for NaN). CPU twin kernels/cpu/lira_stat.cpp, CUDA
// kernels/cuda/lira_stat.cu. Tested in tests/test_lira_stat_kernel.cpp (long-double reference, margins of
// +-200) and tests/gpu/test_lira_stat_gpu.cpp.
#pragma once
#include "kernels/lira_stat_math.h"
#include "kernels/registry.h"
#include "kernels/tensor.h"

namespace sp {

using LiraStatFn = void(Stream&, const Tensor& phi, const Tensor& logits, const Tensor& labels, lira::Statistic st);
extern Kernel<LiraStatFn> k_lira_stat;

// Validating wrapper: phi f64 [N, A], logits f32/f64 [N, A, C] with C >= 2, labels i64 [N], all contiguous
// and on s's device.
void lira_stat(Stream& s, const Tensor& phi, const Tensor& logits, const Tensor& labels, lira::Statistic st);
// Allocates phi (any strides of logits are made contiguous first).
Tensor lira_stat(Stream& s, const Tensor& logits, const Tensor& labels, lira::Statistic st);

}  // namespace sp
