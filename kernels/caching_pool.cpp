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

void* CachingPool::allocate(size_t n, const void* stream) {
  size_t sz = round_size(n);
  std::lock_guard<std::mutex> lock(mu_);
  // Best fit on this stream among blocks no more than 25% larger than asked for.
  auto it = free_.lower_bound({stream, sz});
  if (it != free_.end() && it->first.first == stream && it->first.second <= sz + sz / 4) {
    void* p = it->second;
    size_t bsz = it->first.second;
    free_.erase(it);
    live_[p] = {bsz, stream};
    stats_.bytes_in_use += bsz;
    stats_.peak_in_use = std::max(stats_.peak_in_use, stats_.bytes_in_use);
    ++stats_.cache_hits;
    return p;
  }
  void* p = raw_alloc_(sz);
  if (!p) {  // out of memory: give the cache back and try once more
    for (auto& [key, q] : free_) {
      raw_free_(q);
      stats_.bytes_reserved -= key.second;
    }
    free_.clear();
    p = raw_alloc_(sz);
    SP_CHECK(p, "device allocator: out of memory allocating ", sz, " bytes (", stats_.bytes_in_use,
             " bytes in use)");
  }
  ++stats_.raw_allocs;
  stats_.bytes_reserved += sz;
  stats_.bytes_in_use += sz;
  stats_.peak_in_use = std::max(stats_.peak_in_use, stats_.bytes_in_use);
  live_[p] = {sz, stream};
  return p;
}

void CachingPool::deallocate(void* p) {
  if (!p) return;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = live_.find(p);
  SP_CHECK(it != live_.end(), "device allocator: free of a pointer it did not allocate");
  free_.insert({{it->second.stream, it->second.size}, p});
  stats_.bytes_in_use -= it->second.size;
  live_.erase(it);
}

void CachingPool::reset_peak() {
  std::lock_guard<std::mutex> lock(mu_);
  stats_.peak_in_use = stats_.bytes_in_use;
}

void CachingPool::release_cached() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [key, q] : free_) {
    raw_free_(q);
    stats_.bytes_reserved -= key.second;
  }
  free_.clear();
}

PoolStats CachingPool::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

}  // namespace sp
