// CachingPool: the bookkeeping of the CUDA caching allocator, separated from CUDA so the CPU tests cover it
// (tests/test_allocator.cpp drives it with a counting fake allocator and fake events). Freed blocks stay
// cached per stream and are handed out again for requests of a similar rounded size, so a training step
// performs no cudaMalloc once shapes repeat.
//
// Streams: a block is reused only on the stream it was allocated on, which keeps reuse ordered by that
// stream. A block whose memory other streams also touch is declared with record_stream(p, other): when it
// is freed, the pool records an event on every such stream and hands the block out again only once all of
// them have completed, so work still queued on another stream never sees its memory reused.
//
// Graph capture: between begin_capture(stream, id) and end_capture(stream), allocations on that stream come
// from the private pool `id`, and every block freed on that stream joins it; the private pool's blocks are
// handed out again only to that capture, so the addresses a captured CUDA graph reads and writes stay valid
// for every replay. release_graph_pool(id) (when the graph is destroyed) returns them to the stream's cache.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "kernels/stream_events.h"

namespace sp {

struct PoolStats {
  size_t bytes_in_use = 0;      // handed out and not yet freed
  size_t peak_in_use = 0;       // the most bytes_in_use has been since construction or reset_peak()
  size_t bytes_reserved = 0;    // in use + cached + awaiting events
  size_t bytes_awaiting = 0;    // freed, but waiting for other streams' events before reuse
  size_t bytes_graph_pools = 0; // held by graph pools (in use or cached there)
  size_t raw_allocs = 0;        // calls to the underlying allocator
  size_t cache_hits = 0;
};

class CachingPool {
 public:
  using RawAlloc = std::function<void*(size_t)>;  // returns nullptr when out of memory
  using RawFree = std::function<void(void*)>;
  // `events` is needed by record_stream only; without it record_stream throws.
  CachingPool(RawAlloc a, RawFree f, std::unique_ptr<StreamEvents> events = nullptr)
      : raw_alloc_(std::move(a)), raw_free_(std::move(f)), events_(std::move(events)) {}
  ~CachingPool();
  CachingPool(CachingPool&&) = delete;

  // Rounded request size: 512 B granularity below 1 MiB, 2 MiB above.
  static size_t round_size(size_t n);

  // Throws sp::Error naming the size when even a retry after releasing the cache fails.
  void* allocate(size_t n, const void* stream);
  void deallocate(void* p);
  // Declares that work on `stream` uses block p too (p from allocate and not yet freed); the same stream as
  // p's own is a no-op.
  void record_stream(void* p, const void* stream);
  // Returns every cached (free) block to the underlying allocator. Blocks awaiting events stay.
  void release_cached();
  PoolStats stats() const;
  void reset_peak();

  // Graph capture on `stream` into private pool `pool_id` (non-zero, unused before). One capture per stream
  // at a time; the pool gives no memory back to the allocator while any capture is open.
  void begin_capture(const void* stream, uint64_t pool_id);
  uint64_t end_capture(const void* stream);  // returns the capture's pool id
  // The graph of pool_id is gone: its cached blocks go to the capturing stream's cache, and its blocks
  // still in use go there when freed.
  void release_graph_pool(uint64_t pool_id);

 private:
  struct Block {
    size_t size;
    const void* stream;
    uint64_t graph_pool = 0;              // private pool holding the block, 0: none
    std::vector<const void*> other_streams;  // record_stream
  };
  struct Awaiting {
    void* p;
    Block block;
    std::vector<StreamEvents::Event> events;
  };
  struct GraphPool {
    const void* stream;
    std::multimap<size_t, void*> free;  // size -> block
  };
  void* take_cached(size_t sz, const void* stream);
  void cache(void* p, const Block& b);       // a freed block whose memory no other stream still uses
  void collect_completed(bool wait_all);     // awaiting blocks whose events have completed go to the cache
  void free_cached_blocks();                 // the stream caches (not graph pools) back to raw_free_
  bool capturing() const { return !captures_.empty(); }

  RawAlloc raw_alloc_;
  RawFree raw_free_;
  std::unique_ptr<StreamEvents> events_;
  mutable std::mutex mu_;
  std::unordered_map<void*, Block> live_;
  std::multimap<std::pair<const void*, size_t>, void*> free_;  // (stream, size) -> block
  std::vector<Awaiting> awaiting_;
  std::map<const void*, uint64_t> captures_;  // capturing stream -> its graph pool
  std::map<uint64_t, GraphPool> graph_pools_;
  PoolStats stats_;
};

}  // namespace sp
