// Host-side entry points into the CUDA runtime, declared without CUDA types so that tensor and device
// code compile in CPU-only builds (there each call throws "built without CUDA"). Implemented in
// kernels/cuda/cuda_runtime.cpp; exercised by tests/gpu/*.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>

#include "kernels/caching_pool.h"
#include "kernels/device.h"
#include "kernels/stream_events.h"

namespace sp::cuda_api {

void* alloc(size_t nbytes, Stream& s);  // from the device's caching pool, tied to s
void free(void* p, Device d);           // back into the pool
// Work on s uses block p (from alloc, on device d) too: when freed, p is not reused before that work is done.
void record_stream(void* p, Device d, Stream& s);
// Copy between host and device or device and device, ordered on s. Device-to-host copies synchronise s
// before returning so the host can read the data.
void memcpy(void* dst, Device dd, const void* src, Device sd, size_t nbytes, Stream& s);
// Kernels of ours launched on any GPU since the process started (counted by SP_CUDA_LAUNCH_CHECK; 0 without
// CUDA). cuBLAS/cuDNN routines are not in it: kernel_dispatches (kernels/registry.h) counts those calls.
uint64_t kernel_launches();
// Host-to-device copy from pinned memory, ordered on s, without synchronising: the source must stay
// unchanged until the copy has run (an event recorded on s after it says when; kernels/host_staging.h).
void upload_async(void* dst, const void* pinned_src, size_t nbytes, Stream& s);
void* pinned_alloc(size_t nbytes);  // page-locked host memory (cudaHostAlloc)
void pinned_free(void* p);
// Events on s's device (kernels/stream_events.h), and the identity of s that they take.
std::unique_ptr<StreamEvents> stream_events(Stream& s);
const void* stream_id(Stream& s);
PoolStats pool_stats(int device);
void reset_pool_peak(int device);  // peak_in_use restarts from the bytes in use now
void empty_cache(int device);

}  // namespace sp::cuda_api
