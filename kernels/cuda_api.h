// Host-side entry points into the CUDA runtime, declared without CUDA types so that tensor and device
// code compile in CPU-only builds (there each call throws "built without CUDA"). Implemented in
// kernels/cuda/cuda_runtime.cpp; exercised by tests/gpu/*.
#pragma once
#include <cstddef>
#include <cstdint>

#include "kernels/caching_pool.h"
#include "kernels/device.h"

namespace sp::cuda_api {

void* alloc(size_t nbytes, Stream& s);  // from the device's caching pool, tied to s
void free(void* p, Device d);           // back into the pool
// Copy between host and device or device and device, ordered on s. Device-to-host copies synchronise s
// before returning so the host can read the data.
void memcpy(void* dst, Device dd, const void* src, Device sd, size_t nbytes, Stream& s);
// Kernels of ours launched on any GPU since the process started (counted by SP_CUDA_LAUNCH_CHECK; 0 without
// CUDA). cuBLAS/cuDNN routines are not in it: kernel_dispatches (kernels/registry.h) counts those calls.
uint64_t kernel_launches();
PoolStats pool_stats(int device);
void reset_pool_peak(int device);  // peak_in_use restarts from the bytes in use now
void empty_cache(int device);

}  // namespace sp::cuda_api
