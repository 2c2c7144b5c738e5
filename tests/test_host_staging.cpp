// StagingRing bookkeeping (the pinned buffers of non-synchronising uploads, kernels/host_staging.h) against a
// counting fake allocator and fake stream events; HostUploader's CPU path.
#include "kernels/host_staging.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <map>

#include "kernels/error.h"
#include "tests/fake_stream_events.h"

using namespace sp;
using sp::test::FakeEventLog;
using sp::test::FakeEvents;

namespace {
struct FakeHost {
  std::map<void*, size_t> live;
  int allocs = 0;
  StagingRing make(int slots, FakeEventLog& ev) {
    return StagingRing(
        slots, std::make_unique<FakeEvents>(ev),
        [this](size_t n) {
          ++allocs;
          void* p = std::malloc(n);
          live[p] = n;
          return p;
        },
        [this](void* p) {
          live.erase(p);
          std::free(p);
        });
  }
};
const int kStream = 1;
}  // namespace

TEST(StagingRing, ReusesABufferOnlyAfterItsCopyFinished) {
  FakeHost h;
  FakeEventLog ev;
  {
    StagingRing r = h.make(2, ev);
    void* a = r.acquire(100);
    r.enqueued(&kStream);
    void* b = r.acquire(100);
    EXPECT_NE(a, b) << "the first copy may still be reading slot 0";
    r.enqueued(&kStream);
    ev.finish(&kStream);  // both copies ran: slot 0 comes back without waiting
    EXPECT_EQ(r.acquire(100), a);
    r.enqueued(&kStream);
    EXPECT_EQ(r.waits(), 0);
    EXPECT_EQ(ev.waits, 0);
    EXPECT_EQ(r.acquire(50), b);  // slot 1's copy finished earlier
    r.enqueued(&kStream);
    EXPECT_EQ(r.waits(), 0);
    EXPECT_EQ(r.acquire(50), a);  // slot 0's second copy has not run: the ring waits for it
    EXPECT_EQ(r.waits(), 1);
    EXPECT_EQ(ev.waits, 1);
    r.enqueued(&kStream);
    EXPECT_EQ(h.allocs, 2);
  }  // destruction waits for the copies still pending and frees both buffers
  EXPECT_TRUE(h.live.empty());
  EXPECT_TRUE(ev.pending.empty());
  EXPECT_EQ(ev.released.size(), 5u);
}

TEST(StagingRing, GrowsASlotForALargerUpload) {
  FakeHost h;
  FakeEventLog ev;
  StagingRing r = h.make(1, ev);
  r.acquire(100);
  r.enqueued(&kStream);
  ev.finish(&kStream);
  r.acquire(150);  // within the doubled first allocation
  r.enqueued(&kStream);
  EXPECT_EQ(h.allocs, 1);
  ev.finish(&kStream);
  r.acquire(1000);
  r.enqueued(&kStream);
  EXPECT_EQ(h.allocs, 2);
  EXPECT_EQ(h.live.size(), 1u);
  EXPECT_GE(h.live.begin()->second, 1000u);
}

TEST(StagingRing, RejectsMisuse) {
  FakeHost h;
  FakeEventLog ev;
  StagingRing r = h.make(2, ev);
  EXPECT_THROW(r.enqueued(&kStream), Error);
  r.acquire(8);
  EXPECT_THROW(r.acquire(8), Error);
  r.enqueued(&kStream);
  EXPECT_THROW(StagingRing(0, std::make_unique<FakeEvents>(ev), std::malloc, std::free), Error);
}

TEST(HostUploader, CpuUploadsAreCopies) {
  HostUploader up(Stream::cpu());
  Tensor t = up.upload(std::vector<int64_t>{3, 1, 4, 1, 5, 9}, {2, 3});
  EXPECT_EQ(t.shape(), Shape({2, 3}));
  EXPECT_EQ(t.to_vector<int64_t>(), (std::vector<int64_t>{3, 1, 4, 1, 5, 9}));
  Tensor d = Tensor::zeros({2}, DType::f64);
  double v[2] = {0.5, 2.0};
  up.upload_bytes(d, v, sizeof v);
  EXPECT_EQ(d.to_vector<double>(), (std::vector<double>{0.5, 2.0}));
  EXPECT_THROW(up.upload_bytes(d, v, 8), Error);
  EXPECT_THROW(up.upload(std::vector<int64_t>{1, 2}, {3}), Error);
}
