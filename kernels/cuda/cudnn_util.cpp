// ConvPlan cache and algorithm selection (see cudnn_util.h).
#include "kernels/cuda/cudnn_util.h"

#include <algorithm>
#include <array>
#include <climits>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>

#include "kernels/cuda_api.h"
#include "kernels/env_flag.h"

namespace sp::cudnn {
namespace {

constexpr size_t kMaxWorkspace = size_t(1) << 30;  // ignore algorithms that want more than 1 GiB

bool heuristic_only() {
  static const bool v = env_switch("SP_CUDNN_HEURISTIC", false);
  return v;
}

// What a pass may run: within the workspace cap, FMA math only for f32 without TF32, and deterministic
// algorithms only when the stream asks for them.
struct Policy {
  bool fma_only = false;
  bool deterministic = false;
};

// Filters a Find/Get result list: usable status, workspace within the cap, the policy's math and determinism.
// Returns the index of the first acceptable entry (lists come sorted best first) or -1.
template <class Perf>
int pick(const Perf* perf, int n, const Policy& policy) {
  for (int i = 0; i < n; ++i) {
    if (perf[i].status != CUDNN_STATUS_SUCCESS || perf[i].memory > kMaxWorkspace) continue;
    // The descriptor stays on FMA math then; anything cuDNN reports as tensor-op math would not run.
    if (policy.fma_only && (perf[i].mathType == CUDNN_TENSOR_OP_MATH ||
                            perf[i].mathType == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION))
      continue;
    if (policy.deterministic && perf[i].determinism != CUDNN_DETERMINISTIC) continue;
    return i;
  }
  return -1;
}

// Memory of one timed search, from the device's caching pool and handed back when the search ends: scratch
// for the pass's output and the largest workspace the search may give its candidates (the cap, or a quarter
// of what the device has free if that is less).
class SearchMemory {
 public:
  SearchMemory(Stream& s, size_t out_bytes) : device_(s.device()) {
    size_t free = 0, total = 0;
    SP_CUDA_CHECK(cudaMemGetInfo(&free, &total));
    workspace_bytes = std::min(kMaxWorkspace, free / 4);
    out = cuda_api::alloc(out_bytes, s);
    workspace = workspace_bytes ? cuda_api::alloc(workspace_bytes, s) : nullptr;
  }
  ~SearchMemory() {
    cuda_api::free(workspace, device_);
    cuda_api::free(out, device_);
  }
  SearchMemory(const SearchMemory&) = delete;
  SearchMemory& operator=(const SearchMemory&) = delete;
  void* out = nullptr;
  void* workspace = nullptr;
  size_t workspace_bytes = 0;

 private:
  Device device_;
};

// The selection policy shared by the three passes: the first acceptable entry of a timed search (`find`,
// skipped under SP_CUDNN_HEURISTIC and for determinism, and ignored when it fails), else of cuDNN's
// heuristic list (`get`, which checks its own status); the descriptor takes the chosen math type unless it
// must stay on FMA.
template <class Perf, int kCount, class Find, class Get>
Perf choose_algo(const char* pass, const Conv2dGeom& g, cudnnConvolutionDescriptor_t cd, const Policy& policy,
                 Find&& find, Get&& get) {
  Perf perf[kCount];
  int n = 0, i = -1;
  if (!heuristic_only() && !policy.deterministic && find(kCount, &n, perf) == CUDNN_STATUS_SUCCESS)
    i = pick(perf, n, policy);
  if (i < 0) {
    get(kCount, &n, perf);
    i = pick(perf, n, policy);
  }
  SP_CHECK(i >= 0, "conv2d: cuDNN offers no ", policy.deterministic ? "deterministic " : "", pass,
           " algorithm for input ", g.x_shape(), ", weight ", g.w_shape());
  if (!policy.fma_only) SP_CUDNN_CHECK(cudnnSetConvolutionMathType(cd, perf[i].mathType));
  return perf[i];
}

size_t bytes_of(const Shape& shape, DType dt) { return size_t(shape.numel()) * dtype_size(dt); }

void choose_forward(Stream& s, ConvPlan& p, const Policy& policy, const Conv2dGeom& g, DType dt,
                    const ConvInputs& in) {
  cudnnHandle_t h = cudnn_handle(s);
  cudnnConvolutionDescriptor_t cd = p.conv[0];
  p.fwd_algo = choose_algo<cudnnConvolutionFwdAlgoPerf_t, CUDNN_CONVOLUTION_FWD_ALGO_COUNT>(
                   "forward", g, cd, policy,
                   [&](int count, int* n, cudnnConvolutionFwdAlgoPerf_t* perf) {
                     SearchMemory m(s, bytes_of(g.y_shape(), dt));
                     return cudnnFindConvolutionForwardAlgorithmEx(h, p.x, in.first, p.w, in.second, cd, p.y, m.out,
                                                                   count, n, perf, m.workspace, m.workspace_bytes);
                   },
                   [&](int count, int* n, cudnnConvolutionFwdAlgoPerf_t* perf) {
                     SP_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(h, p.x, p.w, cd, p.y, count, n, perf));
                   })
                   .algo;
  SP_CUDNN_CHECK(cudnnGetConvolutionForwardWorkspaceSize(h, p.x, p.w, cd, p.y, p.fwd_algo, &p.workspace[0]));
}

void choose_backward_data(Stream& s, ConvPlan& p, const Policy& policy, const Conv2dGeom& g, DType dt,
                          const ConvInputs& in) {
  cudnnHandle_t h = cudnn_handle(s);
  cudnnConvolutionDescriptor_t cd = p.conv[1];
  p.data_algo = choose_algo<cudnnConvolutionBwdDataAlgoPerf_t, CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT>(
                    "backward-data", g, cd, policy,
                    [&](int count, int* n, cudnnConvolutionBwdDataAlgoPerf_t* perf) {
                      SearchMemory m(s, bytes_of(g.x_shape(), dt));
                      return cudnnFindConvolutionBackwardDataAlgorithmEx(h, p.w, in.first, p.y, in.second, cd, p.x,
                                                                         m.out, count, n, perf, m.workspace,
                                                                         m.workspace_bytes);
                    },
                    [&](int count, int* n, cudnnConvolutionBwdDataAlgoPerf_t* perf) {
                      SP_CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithm_v7(h, p.w, p.y, cd, p.x, count, n, perf));
                    })
                    .algo;
  SP_CUDNN_CHECK(cudnnGetConvolutionBackwardDataWorkspaceSize(h, p.w, p.y, cd, p.x, p.data_algo, &p.workspace[1]));
}

void choose_backward_filter(Stream& s, ConvPlan& p, const Policy& policy, const Conv2dGeom& g, DType dt,
                            const ConvInputs& in) {
  cudnnHandle_t h = cudnn_handle(s);
  cudnnConvolutionDescriptor_t cd = p.conv[2];
  p.filter_algo = choose_algo<cudnnConvolutionBwdFilterAlgoPerf_t, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT>(
                      "backward-filter", g, cd, policy,
                      [&](int count, int* n, cudnnConvolutionBwdFilterAlgoPerf_t* perf) {
                        SearchMemory m(s, bytes_of(g.w_shape(), dt));
                        return cudnnFindConvolutionBackwardFilterAlgorithmEx(h, p.x, in.first, p.y, in.second, cd,
                                                                             p.w, m.out, count, n, perf, m.workspace,
                                                                             m.workspace_bytes);
                      },
                      [&](int count, int* n, cudnnConvolutionBwdFilterAlgoPerf_t* perf) {
                        SP_CUDNN_CHECK(
                            cudnnGetConvolutionBackwardFilterAlgorithm_v7(h, p.x, p.y, cd, p.w, count, n, perf));
                      })
                      .algo;
  SP_CUDNN_CHECK(
      cudnnGetConvolutionBackwardFilterWorkspaceSize(h, p.x, p.y, cd, p.w, p.filter_algo, &p.workspace[2]));
}

std::unique_ptr<ConvPlan> make_plan(const Conv2dGeom& g, DType dt, bool tf32) {
  for (int64_t v : {g.n, g.c, g.h, g.w, g.o, g.oh, g.ow})
    SP_CHECK(v <= INT_MAX, "conv2d: input ", g.x_shape(), " or weight ", g.w_shape(), " exceeds cuDNN's int sizes");
  auto p = std::make_unique<ConvPlan>();
  cudnnDataType_t t = data_type(dt);
  SP_CUDNN_CHECK(cudnnCreateTensorDescriptor(&p->x));
  SP_CUDNN_CHECK(cudnnCreateTensorDescriptor(&p->y));
  SP_CUDNN_CHECK(cudnnCreateFilterDescriptor(&p->w));
  // Channels-last plans take channels-last filters too ([O, kh, kw, C/groups], which kernels/cuda/conv.cpp
  // permutes the parameters into): cuDNN's NHWC kernels want both operands so.
  const cudnnTensorFormat_t f = g.layout == Layout::nhwc ? CUDNN_TENSOR_NHWC : CUDNN_TENSOR_NCHW;
  SP_CUDNN_CHECK(cudnnSetTensor4dDescriptor(p->x, f, t, int(g.n), int(g.c), int(g.h), int(g.w)));
  SP_CUDNN_CHECK(cudnnSetTensor4dDescriptor(p->y, f, t, int(g.n), int(g.o), int(g.oh), int(g.ow)));
  SP_CUDNN_CHECK(cudnnSetFilter4dDescriptor(p->w, t, f, int(g.o), int(g.c / g.groups), int(g.kh), int(g.kw)));
  cudnnMathType_t math = dt == DType::f32 ? (tf32 ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH) : CUDNN_DEFAULT_MATH;
  for (auto& cd : p->conv) {
    SP_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&cd));
    SP_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(cd, int(g.ph), int(g.pw), int(g.sh), int(g.sw), int(g.dh),
                                                   int(g.dw), CUDNN_CROSS_CORRELATION, t));
    SP_CUDNN_CHECK(cudnnSetConvolutionGroupCount(cd, int(g.groups)));
    SP_CUDNN_CHECK(cudnnSetConvolutionMathType(cd, math));
  }
  int n, c, h, w;
  SP_CUDNN_CHECK(cudnnGetConvolution2dForwardOutputDim(p->conv[0], p->x, p->w, &n, &c, &h, &w));
  SP_CHECK(n == g.n && c == g.o && h == g.oh && w == g.ow, "conv2d: cuDNN output [", n, ", ", c, ", ", h, ", ", w,
           "] differs from ", g.y_shape(), " for input ", g.x_shape(), ", weight ", g.w_shape());
  return p;
}

}  // namespace

ConvPlan::~ConvPlan() {
  for (auto cd : conv)
    if (cd) cudnnDestroyConvolutionDescriptor(cd);
  if (w) cudnnDestroyFilterDescriptor(w);
  if (y) cudnnDestroyTensorDescriptor(y);
  if (x) cudnnDestroyTensorDescriptor(x);
}

cudnnDataType_t data_type(DType dt) {
  switch (dt) {
    case DType::f32: return CUDNN_DATA_FLOAT;
    case DType::f64: return CUDNN_DATA_DOUBLE;
    case DType::f16: return CUDNN_DATA_HALF;
    case DType::bf16: return CUDNN_DATA_BFLOAT16;
    default: SP_FAIL("cuDNN: dtype ", dtype_name(dt), " not supported");
  }
}

const ConvPlan& conv_plan(Stream& s, const Conv2dGeom& g, DType dt, ConvPass pass, const ConvInputs& in) {
  bool tf32 = dt == DType::f32 && s.allow_tf32;
  using Key = std::array<int64_t, 21>;
  Key key{g.n,  g.c,  g.h,  g.w,      g.o,         g.kh,         g.kw,           g.sh, g.sw, g.ph,
          g.pw, g.dh, g.dw, g.groups, int64_t(dt), int64_t(tf32), s.device().index, g.oh, g.ow, int64_t(g.layout),
          int64_t(s.deterministic)};
  static std::mutex mu;
  // Never destroyed: at process exit cuDNN may already be torn down, and destroying descriptors then
  // crashes. The plans are a few hundred bytes per layer shape.
  static auto* plans = new std::map<Key, std::unique_ptr<ConvPlan>>;
  std::lock_guard<std::mutex> lock(mu);
  auto& slot = (*plans)[key];
  if (!slot) slot = make_plan(g, dt, tf32);
  ConvPlan& p = *slot;
  int k = int(pass);
  if (!p.chosen[k]) {
    Policy policy{dt == DType::f32 && !tf32, s.deterministic};
    if (pass == ConvPass::Forward) choose_forward(s, p, policy, g, dt, in);
    if (pass == ConvPass::BackwardData) choose_backward_data(s, p, policy, g, dt, in);
    if (pass == ConvPass::BackwardFilter) choose_backward_filter(s, p, policy, g, dt, in);
    p.chosen[k] = true;
  }
  return p;
}

}  // namespace sp::cudnn
