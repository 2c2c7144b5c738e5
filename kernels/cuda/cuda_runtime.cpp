// CUDA runtime glue: device queries, streams with their library handles, the per-device caching
// allocator (CachingPool over cudaMalloc, with cudaEvent-backed cross-stream reuse), host/device copies and
// pinned host memory. Every entry point that touches a stream, its handles or a device's memory first makes
// that device current (use_device), so a thread may serve several GPUs. Exercised by tests/gpu/*.
#include <atomic>
#include <mutex>
#include <vector>

#include "kernels/cuda/cuda_context.h"
#include "kernels/cuda/cuda_events.h"
#include "kernels/cuda/device_runtime.h"
#include "kernels/cuda_api.h"
#include "kernels/cuda_graph_api.h"

namespace sp {

bool cuda_available(std::string* why) {
  int n = 0;
  cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    if (why) *why = std::string("no usable CUDA device: ") + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")";
    cudaGetLastError();
    return false;
  }
  if (n == 0) {
    if (why) *why = "no CUDA device present";
    return false;
  }
  return true;
}

int cuda_device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  return n;
}

void use_device(int device) {
  int current = -1;
  SP_CUDA_CHECK(cudaGetDevice(&current));
  if (current != device) SP_CUDA_CHECK(cudaSetDevice(device));
}

RelaxedCaptureMode::RelaxedCaptureMode() { SP_CUDA_CHECK(cudaThreadExchangeStreamCaptureMode(&previous_)); }

RelaxedCaptureMode::~RelaxedCaptureMode() {
  cudaThreadExchangeStreamCaptureMode(&previous_);  // restores; a destructor cannot report a failure
}

CachingPool& device_pool(int device) {
  // Never destroyed: the default streams (Stream::cuda_default) are static too and hand their workspace
  // back here from their destructors at exit, which may run after this function's statics would be gone.
  static std::mutex& mu = *new std::mutex;
  static std::vector<std::unique_ptr<CachingPool>>& pools = *new std::vector<std::unique_ptr<CachingPool>>;
  std::lock_guard<std::mutex> lock(mu);
  if (int(pools.size()) <= device) pools.resize(device + 1);
  if (!pools[device]) {
    pools[device] = std::make_unique<CachingPool>(
        [device](size_t n) -> void* {
          use_device(device);
          void* p = nullptr;
          cudaError_t e;
          {
            RelaxedCaptureMode relaxed;  // the pool serves a capture from cudaMalloc'ed blocks the graph keeps
            e = cudaMalloc(&p, n);
          }
          if (e == cudaErrorMemoryAllocation) {
            cudaGetLastError();
            return nullptr;
          }
          SP_CUDA_CHECK(e);
          return p;
        },
        [device](void* p) {
          cudaSetDevice(device);
          cudaFree(p);  // called from destructors too: errors at teardown are not actionable
        },
        std::make_unique<CudaEvents>(device));
  }
  return *pools[device];
}

namespace {
CachingPool& pool(int device) { return device_pool(device); }

// Host synchronisations cannot be captured into a CUDA graph: refuse them by name instead of letting the
// capture fail later with a generic error.
void refuse_during_capture(Stream& s, const char* what) {
  SP_CHECK(!cuda_api::capturing(s), what, " on ", s.device(),
           " during CUDA graph capture: a host synchronisation cannot be captured (device.cuda_graphs off runs the "
           "step without graphs)");
}
}  // namespace

std::unique_ptr<Stream> Stream::create_cuda(int index) {
  std::string why;
  SP_CHECK(cuda_available(&why), "Stream::create_cuda(", index, "): ", why);
  SP_CHECK(index >= 0 && index < cuda_device_count(), "Stream::create_cuda: no GPU ", index, " (",
           cuda_device_count(), " present)");
  auto* st = new CudaStreamState;
  st->device = index;
  use_device(index);
  SP_CUDA_CHECK(cudaStreamCreateWithFlags(&st->stream, cudaStreamNonBlocking));
  return std::unique_ptr<Stream>(new Stream(Device::cuda(index), st));
}

Stream& Stream::cuda_default(int index) {
  static std::mutex mu;
  static std::vector<std::unique_ptr<Stream>> streams;
  std::lock_guard<std::mutex> lock(mu);
  if (int(streams.size()) <= index) streams.resize(index + 1);
  if (!streams[index]) streams[index] = create_cuda(index);
  return *streams[index];
}

Stream::~Stream() {
  if (!cuda_) return;
  cudaSetDevice(cuda_->device);
  cudaStreamSynchronize(cuda_->stream);
  if (cuda_->cublas) cublasDestroy(cuda_->cublas);
  if (cuda_->workspace) pool(cuda_->device).deallocate(cuda_->workspace);
  if (cuda_->cublas_workspace) pool(cuda_->device).deallocate(cuda_->cublas_workspace);
  if (cuda_->cublaslt) cublasLtDestroy(cuda_->cublaslt);
  if (cuda_->cudnn) cudnnDestroy(cuda_->cudnn);
  if (cuda_->owns_stream) cudaStreamDestroy(cuda_->stream);
  delete cuda_;
}

void Stream::synchronize() {
  if (!cuda_) return;
  refuse_during_capture(*this, "Stream::synchronize");
  SP_CUDA_CHECK(cudaStreamSynchronize(cuda_->stream));
}

// Every use of a stream's CUDA state goes through here, so kernel launches, library calls and allocations
// find the stream's device current.
static CudaStreamState& state(Stream& s) {
  SP_CHECK(s.cuda(), "a CUDA kernel was given the CPU stream");
  use_device(s.cuda()->device);
  return *s.cuda();
}

cudaStream_t cuda_stream(Stream& s) { return state(s).stream; }

cublasHandle_t cublas_handle(Stream& s) {
  auto& st = state(s);
  if (!st.cublas) {
    SP_CUBLAS_CHECK(cublasCreate(&st.cublas));
    SP_CUBLAS_CHECK(cublasSetStream(st.cublas, st.stream));
    // cuBLAS would otherwise cudaMalloc a workspace of its own, outside the pool and its accounting, and
    // at a moment a CUDA graph capture may forbid it. 32 MiB is what NVIDIA documents for Hopper.
    constexpr size_t kCublasWorkspace = size_t(32) << 20;
    st.cublas_workspace = pool(st.device).allocate(kCublasWorkspace, st.stream);
    SP_CUBLAS_CHECK(cublasSetWorkspace(st.cublas, st.cublas_workspace, kCublasWorkspace));
  }
  return st.cublas;
}

cublasLtHandle_t cublaslt_handle(Stream& s) {
  auto& st = state(s);
  if (!st.cublaslt) SP_CUBLAS_CHECK(cublasLtCreate(&st.cublaslt));
  return st.cublaslt;
}

cudnnHandle_t cudnn_handle(Stream& s) {
  auto& st = state(s);
  if (!st.cudnn) {
    SP_CUDNN_CHECK(cudnnCreate(&st.cudnn));
    SP_CUDNN_CHECK(cudnnSetStream(st.cudnn, st.stream));
  }
  return st.cudnn;
}

void* cuda_workspace(Stream& s, size_t bytes) {
  auto& st = state(s);
  if (bytes > st.workspace_bytes) {
    // Freed blocks are only reused on this same stream (or, during a capture, kept by the graph), so work
    // already queued keeps its memory valid.
    if (st.workspace) pool(st.device).deallocate(st.workspace);
    st.workspace = pool(st.device).allocate(bytes, st.stream);
    st.workspace_bytes = bytes;
  }
  return st.workspace;
}

namespace detail {

std::atomic<uint64_t> launches{0};

void cuda_launch_check(const char* file, int line, const char* launcher) {
  launches.fetch_add(1, std::memory_order_relaxed);
  cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess)
    fail(file, line, "CUDA error ", cudaGetErrorName(e), " (", cudaGetErrorString(e), ") launching a kernel in ",
         launcher, "()");
  if (!cuda_debug_sync()) return;
  e = cudaDeviceSynchronize();
  if (e != cudaSuccess)
    fail(file, line, "CUDA error ", cudaGetErrorName(e), " (", cudaGetErrorString(e), ") in the kernel launched by ",
         launcher, "() (found by SP_CUDA_DEBUG_SYNC)");
}

void cuda_debug_after(const char* file, int line, const char* call) {
  cudaError_t e = cudaDeviceSynchronize();
  if (e != cudaSuccess)
    fail(file, line, "CUDA error ", cudaGetErrorName(e), " (", cudaGetErrorString(e), ") in the work of ", call,
         " (found by SP_CUDA_DEBUG_SYNC)");
}

}  // namespace detail

namespace cuda_api {

void* alloc(size_t nbytes, Stream& s) { return pool(state(s).device).allocate(nbytes, state(s).stream); }

void free(void* p, Device d) { pool(d.index).deallocate(p); }

void record_stream(void* p, Device d, Stream& s) {
  SP_CHECK(d.is_cuda() && s.device() == d, "record_stream: memory on ", d, " and a stream on ", s.device());
  pool(d.index).record_stream(p, state(s).stream);
}

void memcpy(void* dst, Device dd, const void* src, Device sd, size_t nbytes, Stream& s) {
  SP_CHECK(s.is_cuda(), "device copy ", sd, " -> ", dd, " needs a CUDA stream");
  bool host = dd.is_cpu() || sd.is_cpu();
  if (host) refuse_during_capture(s, dd.is_cpu() ? "a device-to-host copy" : "a blocking host-to-device copy");
  cudaMemcpyKind kind = dd.is_cpu() ? cudaMemcpyDeviceToHost
                                    : (sd.is_cpu() ? cudaMemcpyHostToDevice : cudaMemcpyDeviceToDevice);
  SP_CUDA_CHECK(cudaMemcpyAsync(dst, src, nbytes, kind, state(s).stream));
  if (host) SP_CUDA_CHECK(cudaStreamSynchronize(state(s).stream));
}

uint64_t kernel_launches() { return detail::launches.load(std::memory_order_relaxed); }
void upload_async(void* dst, const void* pinned_src, size_t nbytes, Stream& s) {
  SP_CHECK(s.is_cuda(), "upload_async needs a CUDA stream");
  SP_CUDA_CHECK(cudaMemcpyAsync(dst, pinned_src, nbytes, cudaMemcpyHostToDevice, state(s).stream));
}

void* pinned_alloc(size_t nbytes) {
  void* p = nullptr;
  SP_CUDA_CHECK(cudaHostAlloc(&p, std::max<size_t>(nbytes, 1), cudaHostAllocDefault));
  return p;
}

void pinned_free(void* p) {
  if (p) cudaFreeHost(p);  // called from destructors: errors at teardown are not actionable
}

std::unique_ptr<StreamEvents> stream_events(Stream& s) {
  return std::make_unique<CudaEvents>(state(s).device);
}

const void* stream_id(Stream& s) { return state(s).stream; }

PoolStats pool_stats(int device) { return pool(device).stats(); }
void reset_pool_peak(int device) { pool(device).reset_peak(); }
void empty_cache(int device) { pool(device).release_cached(); }

}  // namespace cuda_api
}  // namespace sp
