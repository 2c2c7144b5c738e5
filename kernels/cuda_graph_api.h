// CUDA graphs of the work one stream enqueues, declared without CUDA types so host code (the trainer's
// graphed step, paradigms/engine/step_graph.h) compiles in CPU-only builds, where every call throws "built
// without CUDA". Capture uses the thread-local mode, so other threads keep training on their own streams;
// while a stream is captured, its allocations come from a private pool of the caching allocator
// (kernels/caching_pool.h) that the graph keeps until it is destroyed, and any host synchronisation of that
// stream (Stream::synchronize, a copy to or from the host) throws naming itself instead of breaking the
// capture. Implemented in kernels/cuda/cuda_graph.cpp; tested in tests/gpu/test_step_graph_gpu.cpp.
#pragma once
#include <memory>

#include "kernels/device.h"

namespace sp::cuda_api {

class StreamGraph {
 public:
  ~StreamGraph();  // destroys the graph and gives its memory pool back to the stream's cache
  StreamGraph(const StreamGraph&) = delete;
  StreamGraph& operator=(const StreamGraph&) = delete;
  void replay(Stream& s);  // on the stream it was captured from

 private:
  friend std::unique_ptr<StreamGraph> end_capture(Stream& s);
  StreamGraph() = default;
  void* exec_ = nullptr;  // cudaGraphExec_t
  const void* stream_ = nullptr;
  int device_ = 0;
  uint64_t pool_ = 0;
};

// Starts capturing s's work.
void begin_capture(Stream& s);
// Ends the capture and instantiates the graph; throws naming the reason when the capture was invalidated.
std::unique_ptr<StreamGraph> end_capture(Stream& s);
// Ends an unfinished capture (after an error in the captured work), discarding what was captured.
void abort_capture(Stream& s);
// True while s is being captured.
bool capturing(Stream& s);

}  // namespace sp::cuda_api
