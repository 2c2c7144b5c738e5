// StreamEvents: the few event operations the device-memory bookkeeping needs (mark the point a stream has
// reached, ask whether it has passed, wait for it), as an interface so that bookkeeping stays free of CUDA
// and the CPU tests drive it with fakes that complete when told (tests/test_allocator.cpp,
// tests/test_host_staging.cpp). The CUDA implementation wraps cudaEvent_t (kernels/cuda/cuda_events.cpp).
#pragma once

namespace sp {

class StreamEvents {
 public:
  using Event = void*;  // opaque; never null for a recorded event
  virtual ~StreamEvents() = default;
  // An event that completes once every piece of work enqueued on `stream` so far has finished.
  virtual Event record(const void* stream) = 0;
  // True once the event has completed (non-blocking).
  virtual bool done(Event e) = 0;
  // Blocks the calling thread until the event has completed.
  virtual void wait(Event e) = 0;
  // Gives the event back; it is not used afterwards.
  virtual void release(Event e) = 0;
};

}  // namespace sp
