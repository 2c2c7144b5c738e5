// CUDA graph capture and replay of one stream's work (see kernels/cuda_graph_api.h).
#include <atomic>

#include "kernels/cuda/cuda_context.h"
#include "kernels/cuda/device_runtime.h"
#include "kernels/cuda_graph_api.h"

namespace sp::cuda_api {

namespace {
std::atomic<uint64_t> next_pool{1};

cudaStream_t stream_of(Stream& s) {
  SP_CHECK(s.is_cuda(), "CUDA graph capture needs a CUDA stream, got ", s.device());
  return cuda_stream(s);
}
}  // namespace

bool capturing(Stream& s) {
  if (!s.is_cuda()) return false;
  cudaStreamCaptureStatus st = cudaStreamCaptureStatusNone;
  SP_CUDA_CHECK(cudaStreamIsCapturing(stream_of(s), &st));
  return st != cudaStreamCaptureStatusNone;
}

void begin_capture(Stream& s) {
  cudaStream_t st = stream_of(s);
  SP_CHECK(!capturing(s), "begin_capture: stream on ", s.device(), " is already being captured");
  device_pool(s.device().index).begin_capture(st, next_pool++);
  cudaError_t e = cudaStreamBeginCapture(st, cudaStreamCaptureModeThreadLocal);
  if (e != cudaSuccess) {
    device_pool(s.device().index).end_capture(st);
    SP_CUDA_CHECK(e);
  }
}

void abort_capture(Stream& s) {
  cudaStream_t st = stream_of(s);
  cudaGraph_t g = nullptr;
  cudaError_t e = cudaStreamEndCapture(st, &g);  // an invalidated capture reports an error here: expected
  if (e != cudaSuccess) cudaGetLastError();
  if (g) SP_CUDA_CHECK(cudaGraphDestroy(g));
  device_pool(s.device().index).end_capture(st);
}

std::unique_ptr<StreamGraph> end_capture(Stream& s) {
  cudaStream_t st = stream_of(s);
  cudaGraph_t g = nullptr;
  cudaError_t e = cudaStreamEndCapture(st, &g);
  CachingPool& pool = device_pool(s.device().index);
  if (e != cudaSuccess) {
    cudaGetLastError();
    pool.end_capture(st);
    SP_FAIL("CUDA graph capture failed: ", cudaGetErrorName(e), " (", cudaGetErrorString(e),
            "); some call in the captured step is not capturable (a host synchronisation, a blocking copy or an "
            "allocation that could not be served); run with device.cuda_graphs off");
  }
  std::unique_ptr<StreamGraph> out(new StreamGraph);
  out->stream_ = st;
  out->device_ = s.device().index;
  cudaGraphExec_t exec = nullptr;
  e = cudaGraphInstantiateWithFlags(&exec, g, 0);
  cudaGraphDestroy(g);  // the executable graph is independent of its template
  out->pool_ = pool.end_capture(st);
  SP_CUDA_CHECK(e);  // out's destructor gives the pool back
  out->exec_ = exec;
  return out;
}

StreamGraph::~StreamGraph() {
  use_device(device_);
  if (exec_) cudaGraphExecDestroy(static_cast<cudaGraphExec_t>(exec_));  // destructor: not actionable
  device_pool(device_).release_graph_pool(pool_);
}

void StreamGraph::replay(Stream& s) {
  SP_CHECK(cuda_stream(s) == stream_, "StreamGraph::replay: a graph replays on the stream it was captured from");
  SP_CUDA_CHECK(cudaGraphLaunch(static_cast<cudaGraphExec_t>(exec_), static_cast<cudaStream_t>(const_cast<void*>(stream_))));
}

}  // namespace sp::cuda_api
