// Fake stream events for the CPU tests of event-driven bookkeeping (the caching allocator, the staging
// ring): an event recorded on a stream completes when the test calls finish(stream), or when waited on.
#pragma once
#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <set>

#include "kernels/stream_events.h"

namespace sp::test {

// Events recorded on a stream complete when the test calls finish(stream) (everything that stream had
// queued is done) or when the pool waits on them.
struct FakeEventLog {
  std::map<intptr_t, const void*> pending;  // event -> stream
  std::set<intptr_t> released;
  intptr_t next = 1;
  int waits = 0;
  void finish(const void* stream) {
    for (auto it = pending.begin(); it != pending.end();)
      it = it->second == stream ? pending.erase(it) : std::next(it);
  }
};
struct FakeEvents final : StreamEvents {
  FakeEventLog& log;
  explicit FakeEvents(FakeEventLog& l) : log(l) {}
  Event record(const void* stream) override {
    log.pending[log.next] = stream;
    return reinterpret_cast<Event>(log.next++);
  }
  bool done(Event e) override { return !log.pending.count(reinterpret_cast<intptr_t>(e)); }
  void wait(Event e) override {
    ++log.waits;
    log.pending.erase(reinterpret_cast<intptr_t>(e));
  }
  void release(Event e) override { EXPECT_TRUE(log.released.insert(reinterpret_cast<intptr_t>(e)).second); }
};
}  // namespace sp::test
