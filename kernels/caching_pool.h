// CachingPool: the bookkeeping of the CUDA caching allocator, separated from CUDA so the CPU tests cover it
// (tests/test_allocator.cpp drives it with a counting fake). Freed blocks stay cached per stream and are
// handed out again for requests of a similar rounded size, so a training step performs no cudaMalloc
// once shapes repeat. A block is only reused on the stream it was freed on, which keeps reuse ordered by
// that stream without events; a tensor shared across streams must be kept alive by its owner.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <unordered_map>

namespace sp {

struct PoolStats {
  size_t bytes_in_use = 0;    // handed out and not yet freed
  size_t peak_in_use = 0;     // the most bytes_in_use has been since construction or reset_peak()
  size_t bytes_reserved = 0;  // in use + cached
  size_t raw_allocs = 0;      // calls to the underlying allocator
  size_t cache_hits = 0;
};

class CachingPool {
 public:
  using RawAlloc = std::function<void*(size_t)>;  // returns nullptr when out of memory
  using RawFree = std::function<void(void*)>;
  CachingPool(RawAlloc a, RawFree f) : raw_alloc_(std::move(a)), raw_free_(std::move(f)) {}
  ~CachingPool() { release_cached(); }

  // Rounded request size: 512 B granularity below 1 MiB, 2 MiB above.
  static size_t round_size(size_t n);

  // Throws sp::Error naming the size when even a retry after releasing the cache fails.
  void* allocate(size_t n, const void* stream);
  void deallocate(void* p);
  // Returns every cached (free) block to the underlying allocator.
  void release_cached();
  PoolStats stats() const;
  void reset_peak();

 private:
  struct Block {
    size_t size;
    const void* stream;
  };
  RawAlloc raw_alloc_;
  RawFree raw_free_;
  mutable std::mutex mu_;
  std::unordered_map<void*, Block> live_;
  std::multimap<std::pair<const void*, size_t>, void*> free_;  // (stream, size) -> block
  PoolStats stats_;
};

}  // namespace sp
