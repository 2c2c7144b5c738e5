// Devices and streams. A Stream goes through every kernel call so models train concurrently on separate CUDA
// streams (a tensor used on two: Tensor::record_stream); CUDA calls make the stream's device current first.
// CUDA state (the cudaStream_t, cuBLAS/cuDNN handles, workspace) hides behind an opaque pointer so host code
// never includes CUDA headers. Tested in tests/test_tensor.cpp and tests/gpu/test_allocator_gpu.cpp.
#pragma once
#include <memory>
#include <ostream>
#include <string>

namespace sp {

enum class DeviceKind : uint8_t { CPU = 0, CUDA = 1 };

struct Device {
  DeviceKind kind = DeviceKind::CPU;
  int index = 0;
  static Device cpu() { return {}; }
  static Device cuda(int i = 0) { return {DeviceKind::CUDA, i}; }
  bool is_cpu() const { return kind == DeviceKind::CPU; }
  bool is_cuda() const { return kind == DeviceKind::CUDA; }
  bool operator==(const Device& o) const { return kind == o.kind && (is_cpu() || index == o.index); }
  bool operator!=(const Device& o) const { return !(*this == o); }
  std::string str() const { return is_cpu() ? "cpu" : "cuda:" + std::to_string(index); }
};
inline std::ostream& operator<<(std::ostream& os, const Device& d) { return os << d.str(); }

// True when this build has the CUDA backend and at least one GPU answers. `why` (optional) receives the
// reason when it returns false, for test skips and error messages.
bool cuda_available(std::string* why = nullptr);
int cuda_device_count();

struct CudaStreamState;  // defined in kernels/cuda/cuda_context.h

class Stream {
 public:
  // The CPU "stream": work runs synchronously on the calling thread.
  static Stream& cpu();
  // A new non-blocking CUDA stream on GPU `index`, with its own cuBLAS/cuDNN handles and workspace.
  static std::unique_ptr<Stream> create_cuda(int index = 0);
  // One default CUDA stream per device, created on first use.
  static Stream& cuda_default(int index = 0);

  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  ~Stream();

  Device device() const { return device_; }
  bool is_cuda() const { return device_.is_cuda(); }
  void synchronize();
  CudaStreamState* cuda() const { return cuda_; }

  // Numeric policy for this stream's f32 matrix work: allow TF32 tensor cores (default true, as PyTorch's
  // cuDNN default). CPU ignores it.
  bool allow_tf32 = true;
  // Ask for run-to-run reproducible results on this stream: cuDNN convolutions use only algorithms cuDNN
  // reports as deterministic, chosen by its heuristic ranking rather than by timing (kernels/cuda/cudnn_util.h),
  // so every process picks the same ones. Off by default (the timed search is faster). CPU results never
  // depend on it: the CPU kernels are deterministic.
  bool deterministic = false;

 private:
  Stream(Device d, CudaStreamState* s) : device_(d), cuda_(s) {}
  Device device_;
  CudaStreamState* cuda_ = nullptr;
};

// Sets s.allow_tf32 for the life of the guard and restores it after: for the matrix work whose precision is
// part of its contract (DP-SGD's clipped sums, whitening), whatever the stream's policy is elsewhere.
class Tf32Guard {
 public:
  Tf32Guard(Stream& s, bool allow) : s_(s), saved_(s.allow_tf32) { s.allow_tf32 = allow; }
  ~Tf32Guard() { s_.allow_tf32 = saved_; }
  Tf32Guard(const Tf32Guard&) = delete;
  Tf32Guard& operator=(const Tf32Guard&) = delete;

 private:
  Stream& s_;
  bool saved_;
};

}  // namespace sp
