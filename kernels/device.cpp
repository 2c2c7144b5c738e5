// CPU stream and the CPU-only-build answers of the device queries (see device.h). CUDA builds get the
// real ones from kernels/cuda/cuda_runtime.cpp.
#include "kernels/device.h"

#include "kernels/cuda_api.h"
#include "kernels/cuda_graph_api.h"
#include "kernels/error.h"

namespace sp {

Stream& Stream::cpu() {
  static Stream s(Device::cpu(), nullptr);
  return s;
}

#ifndef SP_HAVE_CUDA
bool cuda_available(std::string* why) {
  if (why) *why = "this build has no CUDA backend (configured without nvcc/cuDNN or with SP_CUDA=OFF)";
  return false;
}
int cuda_device_count() { return 0; }
std::unique_ptr<Stream> Stream::create_cuda(int) { SP_FAIL("Stream::create_cuda: built without CUDA"); }
Stream& Stream::cuda_default(int) { SP_FAIL("Stream::cuda_default: built without CUDA"); }
Stream::~Stream() = default;
void Stream::synchronize() {}

namespace cuda_api {
void* alloc(size_t, Stream&) { SP_FAIL("CUDA allocation requested in a build without CUDA"); }
void free(void*, Device) {}
void record_stream(void*, Device, Stream&) { SP_FAIL("record_stream in a build without CUDA"); }
void memcpy(void*, Device, const void*, Device, size_t, Stream&) { SP_FAIL("device copy in a build without CUDA"); }
uint64_t kernel_launches() { return 0; }
void upload_async(void*, const void*, size_t, Stream&) { SP_FAIL("device upload in a build without CUDA"); }
void* pinned_alloc(size_t) { SP_FAIL("pinned host memory in a build without CUDA"); }
void pinned_free(void*) {}
std::unique_ptr<StreamEvents> stream_events(Stream&) { SP_FAIL("stream events in a build without CUDA"); }
const void* stream_id(Stream&) { SP_FAIL("stream_id in a build without CUDA"); }
StreamGraph::~StreamGraph() = default;
void StreamGraph::replay(Stream&) { SP_FAIL("CUDA graph replay in a build without CUDA"); }
void begin_capture(Stream&) { SP_FAIL("CUDA graph capture in a build without CUDA"); }
std::unique_ptr<StreamGraph> end_capture(Stream&) { SP_FAIL("CUDA graph capture in a build without CUDA"); }
void abort_capture(Stream&) { SP_FAIL("CUDA graph capture in a build without CUDA"); }
bool capturing(Stream&) { return false; }
PoolStats pool_stats(int) { return {}; }
void reset_pool_peak(int) {}
void empty_cache(int) {}
}  // namespace cuda_api
#endif

}  // namespace sp
