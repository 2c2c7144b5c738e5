// SP_HD marks per-element math written once and compiled for both backends (host and device), so the
// CPU tests cover the exact arithmetic the CUDA kernels run.
#pragma once
#ifdef __CUDACC__
#define SP_HD __host__ __device__ __forceinline__
#else
#define SP_HD inline
#endif
