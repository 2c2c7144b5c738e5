// Tensor: a typed, strided view (shape, strides, element offset) of reference-counted device storage.
// Views (reshape, slice, select, transpose, permute, expand, unsqueeze) share storage; copies between
// devices are explicit and go through a Stream. CPU storage is 64-byte aligned; CUDA storage comes from the
// caching allocator (kernels/caching_pool.h, served by kernels/cuda/cuda_runtime.cpp). Tested in tests/test_tensor.cpp (views, edge cases,
// bad input) and tests/gpu/test_tensor_gpu.cpp (device copies).
#pragma once
#include <memory>
#include <vector>

#include "kernels/device.h"
#include "kernels/dtype.h"
#include "kernels/shape.h"

namespace sp {

class Storage {
 public:
  Storage(size_t nbytes, Stream& s);  // uninitialised memory on s's device
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  void* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }

 private:
  void* data_ = nullptr;
  size_t nbytes_ = 0;
  Device device_;
};

class Tensor {
 public:
  Tensor() = default;  // undefined tensor

  static Tensor empty(const Shape& shape, DType dt, Stream& s = Stream::cpu());
  static Tensor zeros(const Shape& shape, DType dt, Stream& s = Stream::cpu());
  static Tensor full(const Shape& shape, double value, DType dt, Stream& s = Stream::cpu());
  // Host data into a new CPU tensor (contiguous).
  template <class T>
  static Tensor from_vector(const std::vector<T>& v, const Shape& shape) {
    SP_CHECK(int64_t(v.size()) == shape.numel(), "Tensor::from_vector: ", v.size(), " values for shape ", shape);
    Tensor t = empty(shape, dtype_v<T>);
    if (!v.empty()) memcpy(t.raw_data(), v.data(), v.size() * sizeof(T));
    return t;
  }
  // Contiguous host copy of the elements (any device; synchronises s).
  template <class T>
  std::vector<T> to_vector(Stream& s = Stream::cpu()) const {
    check_dtype(dtype_v<T>, "Tensor::to_vector");
    Tensor c = to(Device::cpu(), s).contiguous();
    std::vector<T> v(size_t(c.numel()));
    if (!v.empty()) memcpy(v.data(), c.raw_data(), v.size() * sizeof(T));
    return v;
  }

  bool defined() const { return storage_ != nullptr; }
  const Shape& shape() const { return shape_; }
  const Shape& strides() const { return strides_; }
  int dim() const { return shape_.size(); }
  int64_t size(int d) const { return shape_[shape_.axis(d, "Tensor::size")]; }
  int64_t stride(int d) const { return strides_[shape_.axis(d, "Tensor::stride")]; }
  int64_t numel() const { return shape_.numel(); }
  int64_t offset() const { return offset_; }
  DType dtype() const { return dtype_; }
  Device device() const { return storage_ ? storage_->device() : Device::cpu(); }
  size_t itemsize() const { return dtype_size(dtype_); }
  size_t nbytes() const { return size_t(numel()) * itemsize(); }
  bool is_contiguous() const;
  const std::shared_ptr<Storage>& storage() const { return storage_; }

  // Pointer to element 0 of this view.
  void* raw_data() const;
  template <class T>
  T* data() const {
    check_dtype(dtype_v<T>, "Tensor::data");
    return static_cast<T*>(raw_data());
  }
  void check_dtype(DType want, const char* who) const;

  // ---- views (share storage) ----
  Tensor view(const Shape& shape) const;  // needs contiguous; one dim may be -1
  Tensor reshape(const Shape& shape) const { return view(shape); }
  Tensor flatten() const { return view({numel()}); }
  Tensor slice(int dim, int64_t start, int64_t end, int64_t step = 1) const;
  Tensor narrow(int dim, int64_t start, int64_t len) const { return slice(dim, start, start + len); }
  Tensor select(int dim, int64_t index) const;
  Tensor transpose(int d0, int d1) const;
  Tensor permute(const Shape& order) const;
  Tensor expand(const Shape& shape) const;  // broadcast size-1 dims with stride 0
  Tensor unsqueeze(int dim) const;
  Tensor squeeze(int dim) const;
  // Reinterpret with explicit geometry (checked against the storage bounds).
  Tensor as_strided(const Shape& shape, const Shape& strides, int64_t offset) const;

  // ---- copies ----
  Tensor contiguous(Stream& s = Stream::cpu()) const;  // self if already contiguous
  Tensor clone(Stream& s = Stream::cpu()) const;
  Tensor to(Device d, Stream& s = Stream::cpu()) const;  // self if already there
  Tensor to(DType dt, Stream& s = Stream::cpu()) const;  // converting copy on the same device
  // Element writes are const: a Tensor is a handle, and these change the elements it views, not the view.
  // Copies src into this tensor (same shape; dtype converted; devices may differ when both are
  // contiguous). Runs on s.
  void copy_(const Tensor& src, Stream& s = Stream::cpu()) const;
  void fill_(double value, Stream& s = Stream::cpu()) const;
  void zero_(Stream& s = Stream::cpu()) const { fill_(0.0, s); }
  // Declares that work enqueued on s (another stream of the same GPU) uses this tensor's storage: when the
  // storage is freed, the caching allocator reuses it only after that work has finished. Needed when a
  // tensor made on one stream is read or written on another and may be freed before the other stream is
  // done; a no-op for CPU tensors (the CPU stream is synchronous).
  void record_stream(Stream& s) const;

  // Element (CPU only, any dtype, converted to double) for tests and small reads.
  double item(const Shape& index = {}) const;

  std::string str() const;  // "f32[2, 3] cpu"

 private:
  std::shared_ptr<Storage> storage_;
  Shape shape_, strides_;
  int64_t offset_ = 0;
  DType dtype_ = DType::f32;
};

// Shape checks used by ops: throw naming the op and both shapes.
void check_same_shape(const char* op, const Tensor& a, const Tensor& b);
void check_same_device(const char* op, const Tensor& a, const Tensor& b);

}  // namespace sp
