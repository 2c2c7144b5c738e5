// CUDA-side view of a Stream: the cudaStream_t, lazily created cuBLAS/cuDNN handles bound to it, and a
// growable workspace. Also the status-check macros every CUDA call goes through (file and line in the
// message) and launch-geometry helpers. Only CUDA sources include this header.
#pragma once
#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include "kernels/device.h"
#include "kernels/env_flag.h"
#include "kernels/error.h"

namespace sp::detail {
void cuda_launch_check(const char* file, int line, const char* launcher);
// Under SP_CUDA_DEBUG_SYNC, after a cuBLAS or cuDNN call: synchronise the device and report a fault as that call's.
void cuda_debug_after(const char* file, int line, const char* call);
}  // namespace sp::detail

#define SP_CUDA_CHECK(call)                                                                     \
  do {                                                                                          \
    cudaError_t sp_err_ = (call);                                                               \
    if (sp_err_ != cudaSuccess)                                                                 \
      ::sp::detail::fail(__FILE__, __LINE__, "CUDA error ", cudaGetErrorName(sp_err_), " (",    \
                         cudaGetErrorString(sp_err_), ") in ", #call);                          \
  } while (0)
#define SP_CUBLAS_CHECK(call)                                                                   \
  do {                                                                                          \
    cublasStatus_t sp_st_ = (call);                                                             \
    if (sp_st_ != CUBLAS_STATUS_SUCCESS)                                                        \
      ::sp::detail::fail(__FILE__, __LINE__, "cuBLAS error ", cublasGetStatusName(sp_st_), " in ", #call); \
    if (::sp::cuda_debug_sync()) ::sp::detail::cuda_debug_after(__FILE__, __LINE__, #call);            \
  } while (0)
#define SP_CUDNN_CHECK(call)                                                                    \
  do {                                                                                          \
    cudnnStatus_t sp_st_ = (call);                                                              \
    if (sp_st_ != CUDNN_STATUS_SUCCESS)                                                         \
      ::sp::detail::fail(__FILE__, __LINE__, "cuDNN error ", cudnnGetErrorString(sp_st_), " in ", #call); \
    if (::sp::cuda_debug_sync()) ::sp::detail::cuda_debug_after(__FILE__, __LINE__, #call);            \
  } while (0)
// After every kernel launch: the launch's own error and, under SP_CUDA_DEBUG_SYNC (kernels/env_flag.h), the
// kernel's, so a fault names the function and line that launched it.
#define SP_CUDA_LAUNCH_CHECK() ::sp::detail::cuda_launch_check(__FILE__, __LINE__, __func__)

namespace sp {

struct CudaStreamState {
  int device = 0;
  cudaStream_t stream = nullptr;
  bool owns_stream = true;
  cublasHandle_t cublas = nullptr;
  cublasLtHandle_t cublaslt = nullptr;
  cudnnHandle_t cudnn = nullptr;
  void* workspace = nullptr;
  size_t workspace_bytes = 0;
  void* cublas_workspace = nullptr;  // from the caching pool, given to cuBLAS so it never allocates its own
};

cudaStream_t cuda_stream(Stream& s);
cublasHandle_t cublas_handle(Stream& s);
cublasLtHandle_t cublaslt_handle(Stream& s);
cudnnHandle_t cudnn_handle(Stream& s);
// Scratch memory of at least `bytes`, valid for work enqueued on s until the next call that grows it.
void* cuda_workspace(Stream& s, size_t bytes);

constexpr int kBlock = 256;
inline unsigned grid_1d(int64_t n, int block = kBlock) {
  int64_t g = (n + block - 1) / block;
  return unsigned(g < 1 ? 1 : (g > 2147483647 ? 2147483647 : g));
}

}  // namespace sp
