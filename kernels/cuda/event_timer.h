// Times work enqueued on a CUDA stream with a pair of cudaEvents (GPU time, not host time). Header-only
// so host tools can use it in CUDA builds (tools/sp_bench_kernels.cpp); each timing synchronises on the
// stop event, so it belongs in benchmarks, never in ops.
#pragma once
#include "kernels/cuda/cuda_context.h"

namespace sp::cuda {

class EventTimer {
 public:
  EventTimer() {
    SP_CUDA_CHECK(cudaEventCreate(&start_));
    SP_CUDA_CHECK(cudaEventCreate(&stop_));
  }
  ~EventTimer() {
    cudaEventDestroy(start_);
    cudaEventDestroy(stop_);
  }
  EventTimer(const EventTimer&) = delete;
  EventTimer& operator=(const EventTimer&) = delete;

  void start(Stream& s) { SP_CUDA_CHECK(cudaEventRecord(start_, cuda_stream(s))); }
  // Milliseconds between start() and now on s; waits for the stream to get there.
  double stop_ms(Stream& s) {
    SP_CUDA_CHECK(cudaEventRecord(stop_, cuda_stream(s)));
    SP_CUDA_CHECK(cudaEventSynchronize(stop_));
    float ms = 0;
    SP_CUDA_CHECK(cudaEventElapsedTime(&ms, start_, stop_));
    return ms;
  }

 private:
  cudaEvent_t start_ = nullptr, stop_ = nullptr;
};

}  // namespace sp::cuda
