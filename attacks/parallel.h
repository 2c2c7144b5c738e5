// A minimal work-sharing loop for the attack code: `threads` std::threads take task indices 0..n-1 from
// an atomic counter; the first exception stops the others from taking new tasks and is rethrown on the
// calling thread. Results must not depend on which thread ran a task. Exercised by every multi-threaded
// test in tests/test_lira_*.cpp (which compare 1 and 2 threads).
#pragma once
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace sp::lira {

// fn(task, thread_index)
template <class Fn>
void parallel_tasks(int64_t n, int threads, Fn&& fn) {
  int nt = int(std::max<int64_t>(1, std::min<int64_t>(threads, n)));
  std::atomic<int64_t> next{0};
  std::atomic<bool> stop{false};
  std::exception_ptr error;
  std::mutex mu;
  auto worker = [&](int tid) {
    try {
      for (int64_t k; !stop.load(std::memory_order_relaxed) && (k = next.fetch_add(1)) < n;) fn(k, tid);
    } catch (...) {
      std::lock_guard<std::mutex> g(mu);
      if (!error) error = std::current_exception();
      stop = true;
    }
  };
  if (nt == 1) {
    worker(0);
  } else {
    std::vector<std::thread> pool;
    for (int t = 1; t < nt; ++t) pool.emplace_back(worker, t);
    worker(0);
    for (auto& th : pool) th.join();
  }
  if (error) std::rethrow_exception(error);
}

}  // namespace sp::lira
