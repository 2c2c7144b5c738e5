// Host-to-device uploads that never synchronise the stream. A StagingRing is a few pinned host buffers used
// in turn: a buffer is filled, its copy enqueued, and an event recorded after the copy; the buffer is filled
// again only once that event has completed (normally long since, so nothing waits). The ring's bookkeeping
// is free of CUDA (events and memory come in as interfaces) and tested on the CPU with fakes in
// tests/test_host_staging.cpp; HostUploader puts it behind tensors, and on the CPU is a plain copy.
#pragma once
#include <cstring>
#include <functional>
#include <memory>
#include <vector>

#include "kernels/stream_events.h"
#include "kernels/tensor.h"

namespace sp {

class StagingRing {
 public:
  using Alloc = std::function<void*(size_t)>;
  using Free = std::function<void(void*)>;
  StagingRing(int slots, std::unique_ptr<StreamEvents> events, Alloc alloc, Free free);
  ~StagingRing();  // waits for the copies still reading its buffers
  StagingRing(const StagingRing&) = delete;
  StagingRing& operator=(const StagingRing&) = delete;

  // The next buffer, of at least nbytes, once the copy that last read it has finished. Each acquire is
  // followed by enqueued() before the next acquire.
  void* acquire(size_t nbytes);
  // The copy from the buffer acquire() returned has been enqueued on `stream`.
  void enqueued(const void* stream);
  int waits() const { return waits_; }  // acquires that had to wait for a copy (a sign of too few slots)

 private:
  struct Slot {
    void* data = nullptr;
    size_t size = 0;
    StreamEvents::Event copied = nullptr;  // recorded after the slot's last copy
  };
  std::vector<Slot> slots_;
  std::unique_ptr<StreamEvents> events_;
  Alloc alloc_;
  Free free_;
  size_t next_ = 0;
  bool acquired_ = false;
  int waits_ = 0;
};

// Uploads host arrays into new tensors on s's device without synchronising s (CPU: a copy).
class HostUploader {
 public:
  explicit HostUploader(Stream& s, int slots = 4);
  template <class T>
  Tensor upload(const std::vector<T>& v, const Shape& shape) {
    if (!s_.is_cuda()) return Tensor::from_vector(v, shape);
    SP_CHECK(int64_t(v.size()) == shape.numel(), "HostUploader: ", v.size(), " values for shape ", shape);
    Tensor t = Tensor::empty(shape, dtype_v<T>, s_);
    upload_bytes(t, v.data(), v.size() * sizeof(T));
    return t;
  }
  // Into an existing contiguous tensor of s's device of exactly nbytes (CPU: a plain copy).
  void upload_bytes(const Tensor& dst, const void* src, size_t nbytes);

 private:
  Stream& s_;
  std::unique_ptr<StagingRing> ring_;  // CUDA streams only
};

}  // namespace sp
