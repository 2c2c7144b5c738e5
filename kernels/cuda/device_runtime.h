// What the CUDA runtime glue (kernels/cuda/cuda_runtime.cpp) shares with its sibling sources (events,
// graphs): the per-device caching pool and the current-device switch. Only CUDA sources include this header.
#pragma once
#include <cuda_runtime.h>

#include "kernels/caching_pool.h"

namespace sp {

// While alive, the calling thread may make calls that a stream capture forbids by default (cudaMalloc,
// cudaEventCreate): the caching allocator's own bookkeeping calls, which a captured graph does not depend on
// being replayed (its memory is held by the graph's pool), must not invalidate a capture in progress.
class RelaxedCaptureMode {
 public:
  RelaxedCaptureMode();
  ~RelaxedCaptureMode();
  RelaxedCaptureMode(const RelaxedCaptureMode&) = delete;
  RelaxedCaptureMode& operator=(const RelaxedCaptureMode&) = delete;

 private:
  cudaStreamCaptureMode previous_ = cudaStreamCaptureModeRelaxed;
};

// Makes `device` the calling thread's current device when it is not already. Every path that touches a
// device's streams, memory or library handles calls it first, so a thread that serves several GPUs never
// enqueues work on a stream of a device that is not current.
void use_device(int device);
// The caching allocator of GPU `device` (created on first use, never destroyed).
CachingPool& device_pool(int device);

}  // namespace sp
