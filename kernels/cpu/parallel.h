// parallel_for for CPU kernels: runs f(i) for i in [0, n) on the calling thread plus a persistent pool of
// helper threads (one per extra hardware thread). Tasks are claimed one by one from a shared counter and
// the caller only waits for tasks that were actually claimed, so a helper that the OS does not schedule
// (the cores busy with OpenBLAS's spinning workers, or other processes) cannot stall the loop: at worst the
// caller runs everything itself. Helpers block on a condition variable between loops, never spin.
// Iterations must write disjoint memory. One loop runs on the pool at a time; a loop started while
// another thread holds the pool (or from inside a task) runs serially. Used by kernels/cpu/conv.cpp;
// tested in tests/test_parallel.cpp and through tests/test_ops_conv.cpp.
#pragma once
#include <cstdint>
#include <functional>

namespace sp::cpu {

int hardware_threads();

void parallel_for(int64_t n, const std::function<void(int64_t)>& f);

// f(begin, end) over [0, n) in blocks of `items_per_block` (the last shorter), in parallel when there is
// more than one block: for loops whose items are independent, so results do not depend on the thread count.
void parallel_ranges(int64_t n, int64_t items_per_block, const std::function<void(int64_t, int64_t)>& f);

}  // namespace sp::cpu
