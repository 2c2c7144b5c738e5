// The one seam between ops and backends. Each kernel is a `Kernel<Fn>` object naming a function type;
// every backend registers its implementation next to the code (SP_REGISTER_KERNEL in kernels/cpu/*.cpp and
// kernels/cuda/*.cu), and callers dispatch on the stream's device. `kernel_list()` enumerates every kernel
// with the backends it has, which tests/test_op_coverage.cpp checks: a kernel registered without both
// backends (in a CUDA build) fails the suite.
#pragma once
#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/device.h"
#include "kernels/error.h"

namespace sp {

enum class Backend : uint8_t { CPU = 0, CUDA = 1 };
constexpr int kNumBackends = 2;
inline Backend backend_of(Device d) { return d.is_cuda() ? Backend::CUDA : Backend::CPU; }
inline const char* backend_name(Backend b) { return b == Backend::CPU ? "cpu" : "cuda"; }

class KernelBase {
 public:
  constexpr explicit KernelBase(const char* name) : name_(name) {}
  const char* name() const { return name_; }
  bool has(Backend b) const { return has_[int(b)]; }

 protected:
  const char* name_;
  bool has_[kNumBackends] = {};
  friend void register_kernel_impl(KernelBase&, Backend);
};

// How many times each backend has been asked to run a kernel since the process started: one per dispatch
// through a Kernel (an op's forward or backward pass; on CUDA that is one to three kernels of ours or one
// cuBLAS/cuDNN routine). sp_train --bench reports it per training step.
inline std::atomic<uint64_t> kernel_dispatch_count[kNumBackends];
inline uint64_t kernel_dispatches(Backend b) { return kernel_dispatch_count[int(b)].load(std::memory_order_relaxed); }

// Every kernel that has at least one registered backend, in registration order.
std::vector<const KernelBase*>& kernel_list();
void register_kernel_impl(KernelBase& k, Backend b);

template <class Fn>
class Kernel : public KernelBase {
 public:
  constexpr explicit Kernel(const char* name) : KernelBase(name) {}
  Fn* get(Backend b) const {
    Fn* f = impl_[int(b)];
    SP_CHECK(f, "kernel '", name_, "' has no ", backend_name(b), " implementation in this build");
    return f;
  }
  template <class... A>
  decltype(auto) operator()(Device d, A&&... a) const {
    kernel_dispatch_count[int(backend_of(d))].fetch_add(1, std::memory_order_relaxed);
    return get(backend_of(d))(std::forward<A>(a)...);
  }
  void set(Backend b, Fn* f) {
    impl_[int(b)] = f;
    register_kernel_impl(*this, b);
  }

 private:
  Fn* impl_[kNumBackends] = {};
};

template <class Fn>
struct KernelRegistrar {
  KernelRegistrar(Kernel<Fn>& k, Backend b, Fn* f) { k.set(b, f); }
};

}  // namespace sp

#define SP_CONCAT_INNER(a, b) a##b
#define SP_CONCAT(a, b) SP_CONCAT_INNER(a, b)
// SP_REGISTER_KERNEL(k_relu_fwd, CPU, relu_fwd_cpu) at namespace scope in a backend file.
#define SP_REGISTER_KERNEL(kernel, backend, fn)                                                  \
  static ::sp::KernelRegistrar<std::remove_pointer_t<decltype(+fn)>> SP_CONCAT(sp_reg_, __LINE__)( \
      kernel, ::sp::Backend::backend, fn)
