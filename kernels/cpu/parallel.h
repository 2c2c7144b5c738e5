// parallel_for for CPU kernels: splits [0, n) into contiguous ranges, one per hardware thread (the caller
// runs the first), and rethrows the first exception after joining. Only for loops whose iterations
// write disjoint memory and are big enough to pay for a thread start (~tens of microseconds). Used by
// kernels/cpu/conv.cpp (im2col/col2im per image), covered by tests/test_ops_conv.cpp.
#pragma once
#include <algorithm>
#include <cstdint>
#include <exception>
#include <thread>
#include <vector>

namespace sp::cpu {

inline int hardware_threads() {
  static const int n = std::max(1, int(std::thread::hardware_concurrency()));
  return n;
}

template <class F>
void parallel_for(int64_t n, F&& f) {
  int64_t workers = std::min<int64_t>(n, hardware_threads());
  if (workers <= 1) {
    for (int64_t i = 0; i < n; ++i) f(i);
    return;
  }
  std::vector<std::exception_ptr> errors(static_cast<size_t>(workers));
  auto run = [&](int64_t w) {
    try {
      for (int64_t i = n * w / workers, e = n * (w + 1) / workers; i < e; ++i) f(i);
    } catch (...) {
      errors[size_t(w)] = std::current_exception();
    }
  };
  std::vector<std::thread> threads;
  threads.reserve(size_t(workers - 1));
  for (int64_t w = 1; w < workers; ++w) threads.emplace_back(run, w);
  run(0);
  for (auto& t : threads) t.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
}

}  // namespace sp::cpu
