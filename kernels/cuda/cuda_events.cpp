// CudaEvents (see cuda_events.h).
#include "kernels/cuda/cuda_events.h"

#include "kernels/cuda/cuda_context.h"
#include "kernels/cuda/device_runtime.h"

namespace sp {

namespace {
cudaEvent_t as_event(StreamEvents::Event e) { return static_cast<cudaEvent_t>(e); }
}  // namespace

CudaEvents::~CudaEvents() {
  for (Event e : spare_) cudaEventDestroy(as_event(e));  // teardown: errors are not actionable
}

StreamEvents::Event CudaEvents::record(const void* stream) {
  use_device(device_);
  // A block freed during a capture records on the other streams that used it, none of them captured.
  RelaxedCaptureMode relaxed;
  cudaEvent_t e = nullptr;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!spare_.empty()) {
      e = as_event(spare_.back());
      spare_.pop_back();
    }
  }
  if (!e) SP_CUDA_CHECK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
  SP_CUDA_CHECK(cudaEventRecord(e, static_cast<cudaStream_t>(const_cast<void*>(stream))));
  return e;
}

bool CudaEvents::done(Event e) {
  cudaError_t r = cudaEventQuery(as_event(e));
  if (r == cudaErrorNotReady) {
    cudaGetLastError();  // not an error: clear it so the next launch check does not report it
    return false;
  }
  SP_CUDA_CHECK(r);
  return true;
}

void CudaEvents::wait(Event e) { SP_CUDA_CHECK(cudaEventSynchronize(as_event(e))); }

void CudaEvents::release(Event e) {
  std::lock_guard<std::mutex> lock(mu_);
  spare_.push_back(e);
}

}  // namespace sp
