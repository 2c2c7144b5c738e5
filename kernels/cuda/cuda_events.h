// StreamEvents (kernels/stream_events.h) over cudaEvent_t, for the caching allocator's cross-stream reuse and
// the pinned staging buffers of host-to-device uploads. Events are created without timing (cheaper to record
// and query) and recycled. Only CUDA sources include this header; exercised by tests/gpu/test_allocator_gpu.cpp.
#pragma once
#include <mutex>
#include <vector>

#include "kernels/stream_events.h"

namespace sp {

class CudaEvents final : public StreamEvents {
 public:
  explicit CudaEvents(int device) : device_(device) {}
  ~CudaEvents() override;
  Event record(const void* stream) override;  // stream: a cudaStream_t of this device
  bool done(Event e) override;
  void wait(Event e) override;
  void release(Event e) override;

 private:
  int device_;
  std::mutex mu_;
  std::vector<Event> spare_;  // released events, recorded again before any new one is created
};

}  // namespace sp
