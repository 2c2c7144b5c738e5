// The helper pool behind cpu::parallel_for (see parallel.h).
#include "kernels/cpu/parallel.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <condition_variable>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace sp::cpu {

// SP_CPU_THREADS overrides the core count: sp_audit gives each concurrent CPU worker its share.
int hardware_threads() {
  static const int n = [] {
    const char* e = std::getenv("SP_CPU_THREADS");
    int v = e ? std::atoi(e) : 0;
    return v > 0 ? v : std::max(1, int(std::thread::hardware_concurrency()));
  }();
  return n;
}

namespace {

// One parallel loop. Shared with the helpers through shared_ptr, so a helper that wakes after the loop
// finished still reads valid counters (and, finding nothing to claim, never touches f).
struct Job {
  const std::function<void(int64_t)>* f = nullptr;
  int64_t n = 0;
  std::atomic<int64_t> next{0}, done{0};
  std::mutex error_mu;
  std::exception_ptr error;

  void work() {
    for (int64_t i; (i = next.fetch_add(1, std::memory_order_relaxed)) < n;) {
      try {
        (*f)(i);
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mu);
        if (!error) error = std::current_exception();
      }
      done.fetch_add(1, std::memory_order_release);
    }
  }
};

thread_local bool inside_task = false;

class Pool {
 public:
  explicit Pool(int helpers) {
    for (int i = 0; i < helpers; ++i) std::thread([this] { loop(); }).detach();
  }

  // False when the pool is busy with another thread's loop.
  bool run(int64_t n, const std::function<void(int64_t)>& f) {
    std::unique_lock<std::mutex> owner(run_mu_, std::try_to_lock);
    if (!owner.owns_lock()) return false;
    auto job = std::make_shared<Job>();
    job->f = &f;
    job->n = n;
    {
      std::lock_guard<std::mutex> lock(mu_);
      job_ = job;
      ++generation_;
    }
    cv_.notify_all();
    inside_task = true;
    job->work();
    inside_task = false;
    while (job->done.load(std::memory_order_acquire) < n) std::this_thread::yield();
    {
      std::lock_guard<std::mutex> lock(mu_);
      job_.reset();
    }
    if (job->error) std::rethrow_exception(job->error);
    return true;
  }

 private:
  void loop() {
    inside_task = true;
    uint64_t seen = 0;
    for (;;) {
      std::shared_ptr<Job> job;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return generation_ != seen; });
        seen = generation_;
        job = job_;
      }
      if (job) job->work();
    }
  }

  std::mutex run_mu_;  // one loop at a time
  std::mutex mu_;
  std::condition_variable cv_;
  std::shared_ptr<Job> job_;
  uint64_t generation_ = 0;
};

// Never destroyed: helpers are detached and block on the pool's condition variable until process exit.
Pool& pool() {
  static Pool& p = *new Pool(hardware_threads() - 1);
  return p;
}

}  // namespace

void parallel_ranges(int64_t n, int64_t items_per_block, const std::function<void(int64_t, int64_t)>& f) {
  if (n <= 0) return;
  const int64_t per = std::max<int64_t>(1, items_per_block), blocks = (n + per - 1) / per;
  if (blocks == 1) {
    f(0, n);
    return;
  }
  parallel_for(blocks, [&](int64_t b) { f(b * per, std::min(n, (b + 1) * per)); });
}

void parallel_for(int64_t n, const std::function<void(int64_t)>& f) {
  if (n <= 0) return;
  if (n == 1 || hardware_threads() == 1 || inside_task || !pool().run(n, f))
    for (int64_t i = 0; i < n; ++i) f(i);
}

}  // namespace sp::cpu
