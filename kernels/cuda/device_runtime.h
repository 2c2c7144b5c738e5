// What the CUDA runtime glue (kernels/cuda/cuda_runtime.cpp) shares with its sibling sources (events,
// graphs): the per-device caching pool and the current-device switch. Only CUDA sources include this header.
#pragma once
#include "kernels/caching_pool.h"

namespace sp {

// Makes `device` the calling thread's current device when it is not already. Every path that touches a
// device's streams, memory or library handles calls it first, so a thread that serves several GPUs never
// enqueues work on a stream of a device that is not current.
void use_device(int device);
// The caching allocator of GPU `device` (created on first use, never destroyed).
CachingPool& device_pool(int device);

}  // namespace sp
