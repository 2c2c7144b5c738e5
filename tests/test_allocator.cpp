// CachingPool bookkeeping (the logic of the CUDA caching allocator) against a counting fake allocator and
// fake stream events that complete when the test says so.
#include "kernels/caching_pool.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <map>

#include "kernels/error.h"
#include "tests/fake_stream_events.h"

using namespace sp;
using sp::test::FakeEventLog;
using sp::test::FakeEvents;

namespace {
struct Fake {
  int allocs = 0, frees = 0;
  size_t limit = size_t(1) << 40, used = 0;
  std::map<void*, size_t> live;
  CachingPool make(FakeEventLog* events = nullptr) {
    return CachingPool(
        [this](size_t n) -> void* {
          if (used + n > limit) return nullptr;
          ++allocs;
          used += n;
          void* p = std::malloc(n);
          live[p] = n;
          return p;
        },
        [this](void* p) {
          ++frees;
          used -= live[p];
          live.erase(p);
          std::free(p);
        },
        events ? std::make_unique<FakeEvents>(*events) : nullptr);
  }
};
const int kS1 = 1, kS2 = 2, kS3 = 3;

// A 1000-byte block of stream 1, used on `others` too (each declared twice: one event each), then freed.
void* freed_after_use_on(CachingPool& p, std::initializer_list<const void*> others) {
  void* a = p.allocate(1000, &kS1);
  for (const void* s : others) {
    p.record_stream(a, s);
    p.record_stream(a, s);
  }
  p.record_stream(a, &kS1);  // its own stream: nothing to wait for
  p.deallocate(a);
  return a;
}

}  // namespace

TEST(CachingPool, RoundsSizes) {
  EXPECT_EQ(CachingPool::round_size(0), 512u);
  EXPECT_EQ(CachingPool::round_size(1), 512u);
  EXPECT_EQ(CachingPool::round_size(513), 1024u);
  EXPECT_EQ(CachingPool::round_size(size_t(1) << 20), size_t(2) << 20);
  EXPECT_EQ(CachingPool::round_size((size_t(2) << 20) + 1), size_t(4) << 20);
}

TEST(CachingPool, ReusesFreedBlocksOnSameStream) {
  Fake f;
  {
    CachingPool p = f.make();
    void* a = p.allocate(1000, &kS1);
    p.deallocate(a);
    void* b = p.allocate(900, &kS1);  // same rounded size: reused
    EXPECT_EQ(a, b);
    EXPECT_EQ(f.allocs, 1);
    void* c = p.allocate(900, &kS2);  // other stream: never shares
    EXPECT_NE(c, b);
    EXPECT_EQ(f.allocs, 2);
    p.deallocate(b);
    p.deallocate(c);
    void* big = p.allocate(4000, &kS1);  // far larger than the cached 1024 block: fresh
    EXPECT_EQ(f.allocs, 3);
    auto st = p.stats();
    EXPECT_EQ(st.bytes_in_use, 4096u);
    EXPECT_EQ(st.peak_in_use, 4096u) << "big alone outweighs b and c together";
    EXPECT_EQ(st.bytes_reserved, 1024u + 1024u + 4096u);
    EXPECT_EQ(st.cache_hits, 1u);
    p.deallocate(big);
    p.reset_peak();
    EXPECT_EQ(p.stats().peak_in_use, 0u);
    p.release_cached();
    EXPECT_EQ(p.stats().bytes_reserved, 0u);
    EXPECT_EQ(f.frees, 3);
  }
  EXPECT_TRUE(f.live.empty());
}

TEST(CachingPool, ReleasesCacheAndRetriesWhenOutOfMemory) {
  Fake f;
  f.limit = 3 * 1024;
  CachingPool p = f.make();
  void* a = p.allocate(1024, &kS1);
  void* b = p.allocate(1024, &kS2);
  p.deallocate(a);
  p.deallocate(b);
  void* c = p.allocate(2048, &kS1);  // needs the cached blocks given back first
  EXPECT_NE(c, nullptr);
  EXPECT_EQ(f.frees, 2);
  EXPECT_THROW(p.allocate(4096, &kS1), Error);  // truly out of memory: clear error
  p.deallocate(c);
}

TEST(CachingPool, RejectsForeignPointer) {
  Fake f;
  CachingPool p = f.make();
  int x;
  EXPECT_THROW(p.deallocate(&x), Error);
  p.deallocate(nullptr);  // no-op
}

TEST(CachingPool, BlockUsedOnAnotherStreamWaitsForItsEvent) {
  Fake f;
  FakeEventLog ev;
  {
    CachingPool p = f.make(&ev);
    void* a = freed_after_use_on(p, {&kS2});
    EXPECT_EQ(ev.pending.size(), 1u) << "one event, on stream 2";
    EXPECT_EQ(p.stats().bytes_awaiting, 1024u);
    EXPECT_EQ(p.stats().bytes_in_use, 0u);
    void* b = p.allocate(1000, &kS1);  // stream 2 has not finished with a: fresh memory
    EXPECT_NE(b, a);
    EXPECT_EQ(f.allocs, 2);
    ev.finish(&kS2);
    void* c = p.allocate(1000, &kS1);  // now a is free again
    EXPECT_EQ(c, a);
    EXPECT_EQ(f.allocs, 2);
    EXPECT_EQ(ev.released.size(), 1u);
    auto st = p.stats();
    EXPECT_EQ(st.bytes_awaiting, 0u);
    EXPECT_EQ(st.bytes_in_use, 2048u);
    EXPECT_EQ(st.bytes_reserved, 2048u);
    EXPECT_EQ(st.cache_hits, 1u);
    p.deallocate(b);
    p.deallocate(c);
  }
  EXPECT_TRUE(f.live.empty());
  EXPECT_EQ(ev.waits, 0);
}

TEST(CachingPool, BlockWaitsForEveryStreamThatUsedIt) {
  Fake f;
  FakeEventLog ev;
  CachingPool p = f.make(&ev);
  void* a = freed_after_use_on(p, {&kS2, &kS3});
  EXPECT_EQ(ev.pending.size(), 2u);
  ev.finish(&kS2);
  void* other = p.allocate(1000, &kS1);
  EXPECT_NE(other, a) << "stream 3 may still use it";
  ev.finish(&kS3);
  void* again = p.allocate(1000, &kS1);
  EXPECT_EQ(again, a);
  EXPECT_EQ(p.stats().bytes_awaiting, 0u);
  p.deallocate(other);
  p.deallocate(again);
}

TEST(CachingPool, DestructionAndOutOfMemoryWaitForPendingEvents) {
  Fake f;
  FakeEventLog ev;
  f.limit = 2048;
  {
    CachingPool p = f.make(&ev);
    void* a = p.allocate(1024, &kS1);
    p.record_stream(a, &kS2);
    p.deallocate(a);
    void* b = p.allocate(2048, &kS1);  // needs a's memory: waits for stream 2, then releases the cache
    EXPECT_EQ(ev.waits, 1);
    EXPECT_EQ(f.frees, 1);
    EXPECT_EQ(p.stats().bytes_reserved, 2048u);
    p.record_stream(b, &kS3);
    p.deallocate(b);
  }  // destruction waits for stream 3 and frees everything
  EXPECT_EQ(ev.waits, 2);
  EXPECT_TRUE(f.live.empty());
  EXPECT_EQ(ev.released.size(), 2u);
}

TEST(CachingPool, RecordStreamNeedsEventsAndALiveBlock) {
  Fake f;
  CachingPool p = f.make();
  void* a = p.allocate(10, &kS1);
  p.record_stream(a, &kS1);  // its own stream: allowed without events
  EXPECT_THROW(p.record_stream(a, &kS2), Error);
  p.deallocate(a);
  FakeEventLog ev;
  CachingPool q = f.make(&ev);
  EXPECT_THROW(q.record_stream(a, &kS2), Error);  // not q's block
}

TEST(CachingPool, CaptureKeepsItsBlocksForTheGraph) {
  Fake f;
  {
    CachingPool p = f.make();
    void* before = p.allocate(1000, &kS1);
    void* cached = p.allocate(1000, &kS1);
    p.deallocate(cached);
    p.begin_capture(&kS1, 7);
    void* g1 = p.allocate(1000, &kS1);
    EXPECT_NE(g1, cached) << "the stream's cache is not used by a capture";
    void* other = p.allocate(1000, &kS2);  // other streams allocate as usual
    p.deallocate(g1);
    void* g2 = p.allocate(1000, &kS1);  // reuse inside the capture follows the captured order
    EXPECT_EQ(g2, g1);
    p.deallocate(before);  // freed on the capturing stream: the graph may have read it, so it joins the pool
    EXPECT_THROW(p.release_cached(), Error);
    EXPECT_THROW(p.begin_capture(&kS1, 8), Error);
    p.end_capture(&kS1);
    EXPECT_EQ(p.stats().bytes_graph_pools, 2048u);
    void* eager = p.allocate(1000, &kS1);  // after capture: the stream's cache, never the graph's blocks
    EXPECT_EQ(eager, cached);
    void* eager2 = p.allocate(1000, &kS1);
    EXPECT_NE(eager2, before);
    EXPECT_NE(eager2, g2);
    p.deallocate(g2);  // the graph's output freed after capture stays the graph's
    void* eager3 = p.allocate(1000, &kS1);
    EXPECT_NE(eager3, g2);
    EXPECT_EQ(p.stats().bytes_graph_pools, 2048u);
    p.release_graph_pool(7);  // the graph is destroyed: its blocks serve the stream again
    EXPECT_EQ(p.stats().bytes_graph_pools, 0u);
    size_t allocs = size_t(f.allocs);
    void* r1 = p.allocate(1000, &kS1);
    void* r2 = p.allocate(1000, &kS1);
    EXPECT_EQ(size_t(f.allocs), allocs);
    EXPECT_TRUE((r1 == g2 || r1 == before) && (r2 == g2 || r2 == before) && r1 != r2);
    EXPECT_THROW(p.release_graph_pool(7), Error);
    EXPECT_THROW(p.begin_capture(&kS1, 0), Error);
    for (void* q : {other, eager, eager2, eager3, r1, r2}) p.deallocate(q);
    EXPECT_EQ(p.stats().bytes_in_use, 0u);
  }
  EXPECT_TRUE(f.live.empty());
}

TEST(CachingPool, BlocksOfALiveGraphPoolLeaveItWhenFreedAfterItsRelease) {
  Fake f;
  CachingPool p = f.make();
  p.begin_capture(&kS1, 3);
  void* out = p.allocate(5000, &kS1);
  p.end_capture(&kS1);
  p.release_graph_pool(3);
  EXPECT_EQ(p.stats().bytes_graph_pools, 5120u) << "still in use";
  p.deallocate(out);
  EXPECT_EQ(p.stats().bytes_graph_pools, 0u);
  void* again = p.allocate(5000, &kS1);
  EXPECT_EQ(again, out);
  p.deallocate(again);
}

TEST(CachingPool, OutOfMemoryDuringCaptureFailsClearly) {
  Fake f;
  f.limit = 1024;
  CachingPool p = f.make();
  void* a = p.allocate(1024, &kS2);
  p.deallocate(a);
  p.begin_capture(&kS1, 1);
  try {
    p.allocate(1024, &kS1);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("graph capture"), std::string::npos) << e.what();
  }
  EXPECT_EQ(f.frees, 0) << "nothing given back during a capture";
  p.end_capture(&kS1);
  p.release_graph_pool(1);
}

TEST(CachingPool, ABlockOfOneGraphFreedDuringAnotherCaptureStaysWithTheFirst) {
  Fake f;
  CachingPool p = f.make();
  p.begin_capture(&kS1, 1);
  void* first = p.allocate(1000, &kS1);  // an output of graph 1, still in use
  p.end_capture(&kS1);
  p.begin_capture(&kS1, 2);
  p.deallocate(first);
  EXPECT_EQ(p.stats().bytes_graph_pools, 1024u) << "counted once";
  void* second = p.allocate(1000, &kS1);
  EXPECT_NE(second, first) << "graph 2 does not take graph 1's block";
  p.end_capture(&kS1);
  p.release_graph_pool(1);
  EXPECT_EQ(p.stats().bytes_graph_pools, 1024u) << "graph 2's block";
  p.release_graph_pool(2);
  EXPECT_EQ(p.stats().bytes_graph_pools, 1024u) << "graph 2's block, still in use";
  p.deallocate(second);
  EXPECT_EQ(p.stats().bytes_graph_pools, 0u);
  EXPECT_EQ(p.stats().bytes_in_use, 0u);
}
