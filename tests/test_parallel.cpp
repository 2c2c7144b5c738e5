// cpu::parallel_for: every index runs exactly once, exceptions reach the caller, nested and concurrent
// loops fall back to serial execution without deadlock.
#include <atomic>
#include <stdexcept>
#include <thread>

#include "kernels/cpu/parallel.h"
#include "tests/test_util.h"

using namespace sp;

TEST(Parallel, EveryIndexOnce) {
  for (int64_t n : {0, 1, 2, 3, 100, 10000}) {
    std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
    cpu::parallel_for(n, [&](int64_t i) { hits[size_t(i)].fetch_add(1); });
    for (int64_t i = 0; i < n; ++i) EXPECT_EQ(hits[size_t(i)].load(), 1) << "n " << n << " i " << i;
  }
}

TEST(Parallel, ExceptionReachesCaller) {
  EXPECT_THROW(cpu::parallel_for(64, [](int64_t i) {
                 if (i == 17) throw std::runtime_error("task 17");
               }),
               std::runtime_error);
  std::atomic<int64_t> sum{0};
  cpu::parallel_for(10, [&](int64_t i) { sum += i; });  // the pool still works afterwards
  EXPECT_EQ(sum.load(), 45);
}

TEST(Parallel, NestedAndConcurrentLoops) {
  std::atomic<int64_t> total{0};
  auto outer = [&] {
    cpu::parallel_for(8, [&](int64_t) { cpu::parallel_for(8, [&](int64_t j) { total += j; }); });
  };
  std::thread other(outer);
  outer();
  other.join();
  EXPECT_EQ(total.load(), 2 * 8 * 28);
}
