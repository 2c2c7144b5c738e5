// StagingRing and HostUploader (see host_staging.h). Tested in tests/test_host_staging.cpp.
#include "kernels/host_staging.h"

#include "kernels/cuda_api.h"
#include "kernels/cuda_graph_api.h"

namespace sp {

StagingRing::StagingRing(int slots, std::unique_ptr<StreamEvents> events, Alloc alloc, Free free)
    : slots_(size_t(slots)), events_(std::move(events)), alloc_(std::move(alloc)), free_(std::move(free)) {
  SP_CHECK(slots >= 1 && events_, "StagingRing: needs at least one slot and stream events, got ", slots, " slots");
}

StagingRing::~StagingRing() {
  for (Slot& s : slots_) {
    if (s.copied) {
      events_->wait(s.copied);
      events_->release(s.copied);
    }
    if (s.data) free_(s.data);
  }
}

void* StagingRing::acquire(size_t nbytes) {
  SP_CHECK(!acquired_, "StagingRing: acquire() twice without enqueued()");
  Slot& s = slots_[next_];
  if (s.copied) {
    if (!events_->done(s.copied)) {
      ++waits_;
      events_->wait(s.copied);
    }
    events_->release(s.copied);
    s.copied = nullptr;
  }
  if (s.size < nbytes) {
    // Grown to twice the request so that slowly growing uploads (Poisson batches) rarely reallocate.
    if (s.data) free_(s.data);
    s.data = nullptr;
    s.size = 0;
    size_t want = std::max<size_t>(nbytes * 2, 256);
    s.data = alloc_(want);
    s.size = want;
  }
  acquired_ = true;
  return s.data;
}

void StagingRing::enqueued(const void* stream) {
  SP_CHECK(acquired_, "StagingRing: enqueued() without acquire()");
  slots_[next_].copied = events_->record(stream);
  next_ = (next_ + 1) % slots_.size();
  acquired_ = false;
}

HostUploader::HostUploader(Stream& s, int slots) : s_(s) {
  if (s.is_cuda())
    ring_ = std::make_unique<StagingRing>(slots, cuda_api::stream_events(s), cuda_api::pinned_alloc,
                                          cuda_api::pinned_free);
}

void HostUploader::upload_bytes(const Tensor& dst, const void* src, size_t nbytes) {
  SP_CHECK(dst.defined() && dst.is_contiguous() && dst.nbytes() == nbytes && dst.device() == s_.device(),
           "HostUploader: destination ", dst.defined() ? dst.str() : std::string("(undefined)"),
           " must be contiguous on ", s_.device(), " with ", nbytes, " bytes");
  if (nbytes == 0) return;
  if (!ring_) {
    std::memcpy(dst.raw_data(), src, nbytes);
    return;
  }
  // A captured copy would read the staging buffer again at every replay, long after it was refilled.
  SP_CHECK(!cuda_api::capturing(s_), "HostUploader: a host-to-device upload on ", s_.device(),
           " during CUDA graph capture (it would replay stale host data); upload before the captured work");
  void* staged = ring_->acquire(nbytes);
  std::memcpy(staged, src, nbytes);
  cuda_api::upload_async(dst.raw_data(), staged, nbytes, s_);
  ring_->enqueued(cuda_api::stream_id(s_));
}

}  // namespace sp
