// Implementation of CachingPool (see caching_pool.h). Tested in tests/test_allocator.cpp.
#include "kernels/caching_pool.h"

#include <algorithm>

#include "kernels/error.h"

namespace sp {

size_t CachingPool::round_size(size_t n) {
  if (n == 0) n = 1;
  constexpr size_t kSmall = 512, kLarge = size_t(2) << 20, kSplit = size_t(1) << 20;
  if (n < kSplit) return (n + kSmall - 1) / kSmall * kSmall;
  return (n + kLarge - 1) / kLarge * kLarge;
}

CachingPool::~CachingPool() {
  std::lock_guard<std::mutex> lock(mu_);
  collect_completed(true);
  free_cached_blocks();
  for (auto& [id, gp] : graph_pools_)
    for (auto& [size, q] : gp.free) raw_free_(q);
}

// A block no more than 25% larger than asked for: best fit in the capture's private pool while `stream` is
// capturing, otherwise in the stream's cache.
void* CachingPool::take_cached(size_t sz, const void* stream) {
  auto cap = captures_.find(stream);
  if (cap != captures_.end()) {
    auto& pool = graph_pools_.at(cap->second).free;
    auto it = pool.lower_bound(sz);
    if (it == pool.end() || it->first > sz + sz / 4) return nullptr;
    void* p = it->second;
    live_[p] = {it->first, stream, cap->second, {}};
    pool.erase(it);
    return p;
  }
  auto it = free_.lower_bound({stream, sz});
  if (it == free_.end() || it->first.first != stream || it->first.second > sz + sz / 4) return nullptr;
  void* p = it->second;
  live_[p] = {it->first.second, stream, 0, {}};
  free_.erase(it);
  return p;
}

void* CachingPool::allocate(size_t n, const void* stream) {
  size_t sz = round_size(n);
  std::lock_guard<std::mutex> lock(mu_);
  // Event queries are left alone during a capture: the capturing thread may make no call that could
  // synchronise, and the blocks waiting for events are not needed to make progress.
  if (!capturing()) collect_completed(false);
  if (void* p = take_cached(sz, stream)) {
    size_t bsz = live_.at(p).size;
    stats_.bytes_in_use += bsz;
    stats_.peak_in_use = std::max(stats_.peak_in_use, stats_.bytes_in_use);
    ++stats_.cache_hits;
    return p;
  }
  void* p = raw_alloc_(sz);
  if (!p) {
    // Out of memory: wait for the blocks other streams still use, give the cache back and try once more.
    // Giving memory back synchronises the device, which a capture forbids: then the capture fails instead.
    SP_CHECK(!capturing(), "device allocator: out of memory allocating ", sz,
             " bytes while a CUDA graph capture is open on this device (", stats_.bytes_in_use,
             " bytes in use); the cache cannot be released during a capture, so run with device.cuda_graphs off "
             "or a smaller batch");
    collect_completed(true);
    free_cached_blocks();
    p = raw_alloc_(sz);
    SP_CHECK(p, "device allocator: out of memory allocating ", sz, " bytes (", stats_.bytes_in_use,
             " bytes in use)");
  }
  ++stats_.raw_allocs;
  stats_.bytes_reserved += sz;
  stats_.bytes_in_use += sz;
  stats_.peak_in_use = std::max(stats_.peak_in_use, stats_.bytes_in_use);
  auto cap = captures_.find(stream);
  uint64_t graph = cap == captures_.end() ? 0 : cap->second;
  if (graph) stats_.bytes_graph_pools += sz;
  live_[p] = {sz, stream, graph, {}};
  return p;
}

void CachingPool::record_stream(void* p, const void* stream) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = live_.find(p);
  SP_CHECK(it != live_.end(), "device allocator: record_stream of a pointer it did not allocate or already freed");
  Block& b = it->second;
  if (stream == b.stream || std::find(b.other_streams.begin(), b.other_streams.end(), stream) != b.other_streams.end())
    return;
  SP_CHECK(events_, "device allocator: record_stream needs stream events, and this pool was built without them");
  b.other_streams.push_back(stream);
}

void CachingPool::deallocate(void* p) {
  if (!p) return;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = live_.find(p);
  SP_CHECK(it != live_.end(), "device allocator: free of a pointer it did not allocate");
  Block b = std::move(it->second);
  live_.erase(it);
  stats_.bytes_in_use -= b.size;
  // Freed on a capturing stream: the captured graph may read or write it, so the graph's pool keeps it (a
  // block of another graph's pool stays there).
  auto cap = captures_.find(b.stream);
  if (cap != captures_.end() && b.graph_pool == 0) {
    b.graph_pool = cap->second;
    stats_.bytes_graph_pools += b.size;
  }
  if (b.other_streams.empty()) {
    cache(p, b);
    return;
  }
  Awaiting w{p, b, {}};
  for (const void* s : b.other_streams) w.events.push_back(events_->record(s));
  w.block.other_streams.clear();
  stats_.bytes_awaiting += b.size;
  awaiting_.push_back(std::move(w));
}

void CachingPool::cache(void* p, const Block& b) {
  if (b.graph_pool) {
    auto gp = graph_pools_.find(b.graph_pool);
    if (gp != graph_pools_.end()) {
      gp->second.free.insert({b.size, p});
      return;
    }
    stats_.bytes_graph_pools -= b.size;  // its graph is gone: an ordinary block again
  }
  free_.insert({{b.stream, b.size}, p});
}

void CachingPool::collect_completed(bool wait_all) {
  auto completed = [&](Awaiting& w) {
    for (StreamEvents::Event e : w.events) {
      if (wait_all)
        events_->wait(e);
      else if (!events_->done(e))
        return false;
    }
    return true;
  };
  std::vector<Awaiting> still;
  for (Awaiting& w : awaiting_) {
    if (!completed(w)) {
      still.push_back(std::move(w));
      continue;
    }
    for (StreamEvents::Event e : w.events) events_->release(e);
    stats_.bytes_awaiting -= w.block.size;
    cache(w.p, w.block);
  }
  awaiting_ = std::move(still);
}

void CachingPool::free_cached_blocks() {
  for (auto& [key, q] : free_) {
    raw_free_(q);
    stats_.bytes_reserved -= key.second;
  }
  free_.clear();
}

void CachingPool::reset_peak() {
  std::lock_guard<std::mutex> lock(mu_);
  stats_.peak_in_use = stats_.bytes_in_use;
}

void CachingPool::release_cached() {
  std::lock_guard<std::mutex> lock(mu_);
  SP_CHECK(!capturing(), "device allocator: the cache cannot be released during CUDA graph capture");
  collect_completed(false);
  free_cached_blocks();
}

PoolStats CachingPool::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

void CachingPool::begin_capture(const void* stream, uint64_t pool_id) {
  std::lock_guard<std::mutex> lock(mu_);
  SP_CHECK(pool_id != 0 && !graph_pools_.count(pool_id), "device allocator: graph pool ", pool_id,
           " is zero or already used");
  SP_CHECK(!captures_.count(stream), "device allocator: this stream is already being captured into graph pool ",
           captures_.at(stream));
  graph_pools_[pool_id] = {stream, {}};
  captures_[stream] = pool_id;
}

uint64_t CachingPool::end_capture(const void* stream) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = captures_.find(stream);
  SP_CHECK(it != captures_.end(), "device allocator: end_capture of a stream that is not being captured");
  uint64_t id = it->second;
  captures_.erase(it);
  return id;
}

void CachingPool::release_graph_pool(uint64_t pool_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto gp = graph_pools_.find(pool_id);
  SP_CHECK(gp != graph_pools_.end(), "device allocator: release of unknown graph pool ", pool_id);
  for (auto it = captures_.begin(); it != captures_.end(); ++it)
    SP_CHECK(it->second != pool_id, "device allocator: graph pool ", pool_id, " released while still capturing");
  // Replays ran on the capturing stream, so its cache may hand these blocks out again in stream order.
  for (auto& [size, q] : gp->second.free) {
    free_.insert({{gp->second.stream, size}, q});
    stats_.bytes_graph_pools -= size;
  }
  graph_pools_.erase(gp);
}

}  // namespace sp
