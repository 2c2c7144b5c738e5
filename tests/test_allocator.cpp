// CachingPool bookkeeping (the logic of the CUDA caching allocator) against a counting fake allocator.
#include "kernels/caching_pool.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <map>

#include "kernels/error.h"

using namespace sp;

namespace {
struct Fake {
  int allocs = 0, frees = 0;
  size_t limit = size_t(1) << 40, used = 0;
  std::map<void*, size_t> live;
  CachingPool make() {
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
        });
  }
};
const int kS1 = 1, kS2 = 2;
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
