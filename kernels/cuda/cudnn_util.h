// cuDNN plumbing for conv2d: a ConvPlan holds the tensor, filter and convolution descriptors of one
// geometry and, per pass (forward, backward data, backward filter), the chosen algorithm and its workspace
// size. A channels-last geometry (Conv2dGeom::layout nhwc) gets CUDNN_TENSOR_NHWC descriptors for the
// activations and for the filters, which its callers pass as [O, kh, kw, C/groups]. Plans live in a
// process-wide cache keyed by geometry, layout, dtype, TF32 setting, determinism and device, so a training step
// builds no descriptors and searches no algorithms after its first iteration. Algorithms come from a timed
// search, cudnnFind*Ex, run once per key and pass on the caller's inputs with the output and the workspace
// taken from the caching pool (no cudaMalloc of cuDNN's own, and the caller's output, which a backward pass
// may accumulate into, is never written); or from cuDNN's heuristic ranking (cudnnGet*_v7) when
// SP_CUDNN_HEURISTIC=1, when the search fails, and when the stream asks for determinism
// (Stream::deterministic): then only algorithms cuDNN reports as deterministic are taken, and since the
// ranking does not depend on timing, every process picks the same ones. f32 without TF32 is restricted to
// FMA-math algorithms. Exercised by tests/gpu/test_ops_conv_gpu.cpp.
#pragma once
#include "kernels/conv.h"
#include "kernels/cuda/cuda_context.h"

namespace sp::cudnn {

enum class ConvPass { Forward = 0, BackwardData = 1, BackwardFilter = 2 };

struct ConvPlan {
  cudnnTensorDescriptor_t x = nullptr, y = nullptr;
  cudnnFilterDescriptor_t w = nullptr;
  cudnnConvolutionDescriptor_t conv[3] = {};  // one per pass: each carries its algorithm's math type
  bool chosen[3] = {};
  cudnnConvolutionFwdAlgo_t fwd_algo{};
  cudnnConvolutionBwdDataAlgo_t data_algo{};
  cudnnConvolutionBwdFilterAlgo_t filter_algo{};
  size_t workspace[3] = {};
  ConvPlan() = default;
  ConvPlan(const ConvPlan&) = delete;
  ConvPlan& operator=(const ConvPlan&) = delete;
  ~ConvPlan();
};

cudnnDataType_t data_type(DType dt);

// The two inputs of a pass, which the timed search runs its candidates on: forward (x, w), backward data
// (w, dy), backward filter (x, dy).
struct ConvInputs {
  const void* first = nullptr;
  const void* second = nullptr;
};

// The cached plan for (g, dt, s.allow_tf32, s.deterministic, s's device) with the algorithm for `pass`
// chosen. The reference stays valid for the life of the process.
const ConvPlan& conv_plan(Stream& s, const Conv2dGeom& g, DType dt, ConvPass pass, const ConvInputs& in);

}  // namespace sp::cudnn
