// Tensor views, storage and copies (see tensor.h). Tested in tests/test_tensor.cpp.
#include "kernels/tensor.h"

#include <malloc.h>

#include <cstdlib>
#include <sstream>

#include "kernels/copy.h"
#include "kernels/cuda_api.h"
#include "kernels/dispatch.h"
#include "kernels/elem.h"

namespace sp {

namespace {
// glibc serves blocks above its mmap threshold (128 KiB at start, raised only by frees of larger blocks) with
// fresh mmap()s and trims the heap top beyond 128 KiB: a CPU training step that allocates and frees its
// activations every step then page-faults on all of them again (a fifth of a width-8 ResNet-18 step was
// kernel time in page faults, measured with perf). Keeping blocks up to glibc's 32 MiB cap on the heap, and
// the heap from shrinking below 512 MiB of free top, makes the second step reuse the first one's pages.
void keep_host_blocks() {
  static const bool done = [] {
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 512 << 20);
    return true;
  }();
  (void)done;
}
}  // namespace

Storage::Storage(size_t nbytes, Stream& s) : nbytes_(nbytes), device_(s.device()) {
  if (device_.is_cpu()) {
    keep_host_blocks();
    size_t n = (std::max<size_t>(nbytes, 1) + 63) / 64 * 64;
    data_ = std::aligned_alloc(64, n);
    SP_CHECK(data_, "out of host memory allocating ", nbytes, " bytes");
  } else {
    data_ = cuda_api::alloc(nbytes, s);
  }
}

Storage::~Storage() {
  if (device_.is_cpu())
    std::free(data_);
  else
    cuda_api::free(data_, device_);
}

Tensor Tensor::empty(const Shape& shape, DType dt, Stream& s) {
  for (int64_t d : shape) SP_CHECK(d >= 0, "Tensor::empty: negative dimension in ", shape);
  Tensor t;
  t.storage_ = std::make_shared<Storage>(size_t(shape.numel()) * dtype_size(dt), s);
  t.shape_ = shape;
  t.strides_ = contiguous_strides(shape);
  t.dtype_ = dt;
  return t;
}

Tensor Tensor::zeros(const Shape& shape, DType dt, Stream& s) { return full(shape, 0.0, dt, s); }

Tensor Tensor::full(const Shape& shape, double value, DType dt, Stream& s) {
  Tensor t = empty(shape, dt, s);
  t.fill_(value, s);
  return t;
}

bool Tensor::is_contiguous() const {
  int64_t expect = 1;
  for (int i = dim() - 1; i >= 0; --i) {
    if (shape_[i] != 1 && strides_[i] != expect) return false;
    expect *= shape_[i];
  }
  return true;
}

void* Tensor::raw_data() const {
  SP_CHECK(defined(), "use of an undefined tensor");
  return static_cast<char*>(storage_->data()) + offset_ * int64_t(itemsize());
}

void Tensor::check_dtype(DType want, const char* who) const {
  SP_CHECK(dtype_ == want, who, ": tensor is ", dtype_name(dtype_), shape_, ", expected ", dtype_name(want));
}

Tensor Tensor::view(const Shape& shape) const {
  SP_CHECK(is_contiguous(), "view: tensor ", str(), " is not contiguous; call contiguous() first");
  Shape s = shape;
  int infer = -1;
  int64_t known = 1;
  for (int i = 0; i < s.size(); ++i) {
    if (s[i] == -1) {
      SP_CHECK(infer < 0, "view: more than one -1 in ", shape);
      infer = i;
    } else {
      SP_CHECK(s[i] >= 0, "view: negative size in ", shape);
      known *= s[i];
    }
  }
  if (infer >= 0) {
    SP_CHECK(known > 0 && numel() % known == 0, "view: cannot infer -1 in ", shape, " for ", numel(), " elements");
    s[infer] = numel() / known;
  }
  SP_CHECK(s.numel() == numel(), "view: shape ", shape, " does not match ", numel(), " elements of ", str());
  Tensor t = *this;
  t.shape_ = s;
  t.strides_ = contiguous_strides(s);
  return t;
}

Tensor Tensor::slice(int dim, int64_t start, int64_t end, int64_t step) const {
  int d = shape_.axis(dim, "slice");
  int64_t n = shape_[d];
  SP_CHECK(step >= 1, "slice: step ", step, " must be >= 1");
  if (start < 0) start += n;
  if (end < 0) end += n;
  SP_CHECK(start >= 0 && start <= end && end <= n, "slice: range [", start, ", ", end, ") out of bounds for dim ",
           d, " of ", str());
  Tensor t = *this;
  t.offset_ += start * strides_[d];
  t.shape_[d] = (end - start + step - 1) / step;
  t.strides_[d] *= step;
  return t;
}

Tensor Tensor::select(int dim, int64_t index) const {
  int d = shape_.axis(dim, "select");
  if (index < 0) index += shape_[d];
  SP_CHECK(index >= 0 && index < shape_[d], "select: index ", index, " out of range for dim ", d, " of ", str());
  Tensor t = *this;
  t.offset_ += index * strides_[d];
  t.shape_.erase(d);
  t.strides_.erase(d);
  return t;
}

Tensor Tensor::transpose(int d0, int d1) const {
  int a = shape_.axis(d0, "transpose"), b = shape_.axis(d1, "transpose");
  Tensor t = *this;
  std::swap(t.shape_[a], t.shape_[b]);
  std::swap(t.strides_[a], t.strides_[b]);
  return t;
}

Tensor Tensor::permute(const Shape& order) const {
  SP_CHECK(order.size() == dim(), "permute: order ", order, " does not match ", str());
  bool seen[Shape::kMaxDims] = {};
  Tensor t = *this;
  for (int i = 0; i < dim(); ++i) {
    int a = shape_.axis(int(order[i]), "permute");
    SP_CHECK(!seen[a], "permute: repeated axis in ", order);
    seen[a] = true;
    t.shape_[i] = shape_[a];
    t.strides_[i] = strides_[a];
  }
  return t;
}

Tensor Tensor::expand(const Shape& shape) const {
  SP_CHECK(shape.size() >= dim(), "expand: ", str(), " to fewer dims ", shape);
  Tensor t = *this;
  int lead = shape.size() - dim();
  t.shape_ = shape;
  for (int i = 0; i < shape.size(); ++i) {
    if (i < lead) {
      t.strides_.insert(0, 0);
      continue;
    }
    int64_t have = shape_[i - lead];
    if (have == shape[i]) continue;
    SP_CHECK(have == 1, "expand: cannot expand ", str(), " to ", shape);
    t.strides_[i] = 0;
  }
  return t;
}

Tensor Tensor::unsqueeze(int dim) const {
  int d = dim < 0 ? dim + this->dim() + 1 : dim;
  SP_CHECK(d >= 0 && d <= this->dim(), "unsqueeze: axis ", dim, " out of range for ", str());
  Tensor t = *this;
  int64_t st = d < this->dim() ? strides_[d] * shape_[d] : 1;
  t.shape_.insert(d, 1);
  t.strides_.insert(d, st);
  return t;
}

Tensor Tensor::squeeze(int dim) const {
  int d = shape_.axis(dim, "squeeze");
  SP_CHECK(shape_[d] == 1, "squeeze: dim ", d, " of ", str(), " is not 1");
  Tensor t = *this;
  t.shape_.erase(d);
  t.strides_.erase(d);
  return t;
}

Tensor Tensor::as_strided(const Shape& shape, const Shape& strides, int64_t offset) const {
  SP_CHECK(defined(), "as_strided: undefined tensor");
  SP_CHECK(shape.size() == strides.size(), "as_strided: shape ", shape, " and strides ", strides, " differ in rank");
  int64_t lo = offset, hi = offset;
  for (int i = 0; i < shape.size(); ++i) {
    SP_CHECK(shape[i] >= 0, "as_strided: negative size in ", shape);
    if (shape[i] == 0) {
      lo = hi = offset;
      break;
    }
    int64_t span = (shape[i] - 1) * strides[i];
    (span < 0 ? lo : hi) += span;
  }
  int64_t cap = int64_t(storage_->nbytes() / itemsize());
  SP_CHECK(lo >= 0 && (shape.numel() == 0 || hi < cap), "as_strided: view ", shape, " strides ", strides,
           " offset ", offset, " exceeds storage of ", cap, " elements");
  Tensor t = *this;
  t.shape_ = shape;
  t.strides_ = strides;
  t.offset_ = offset;
  return t;
}

Tensor Tensor::contiguous(Stream& s) const {
  if (is_contiguous()) return *this;
  return clone(s);
}

Tensor Tensor::clone(Stream& s) const {
  Tensor t = empty(shape_, dtype_, s);
  t.copy_(*this, s);
  return t;
}

Tensor Tensor::to(Device d, Stream& s) const {
  if (d == device()) return *this;
  Stream& dst_stream = d.is_cpu() ? Stream::cpu() : s;
  SP_CHECK(d.is_cpu() || s.device() == d, "Tensor::to(", d, "): stream is on ", s.device());
  Tensor t = empty(shape_, dtype_, dst_stream);
  t.copy_(*this, s);
  return t;
}

Tensor Tensor::to(DType dt, Stream& s) const {
  if (dt == dtype_) return *this;
  Tensor t = empty(shape_, dt, device().is_cpu() ? Stream::cpu() : s);
  t.copy_(*this, s);
  return t;
}

void Tensor::copy_(const Tensor& src, Stream& s) const {
  SP_CHECK(defined() && src.defined(), "copy_: undefined tensor");
  SP_CHECK(shape_ == src.shape_, "copy_: destination ", str(), " and source ", src.str(), " differ in shape");
  if (numel() == 0) return;
  if (device() == src.device()) {
    SP_CHECK(device().is_cpu() || s.device() == device(), "copy_: stream on ", s.device(), " for tensors on ",
             device());
    k_copy(device(), s, *this, src);
    return;
  }
  // Across devices: stage through a contiguous buffer of the destination dtype on the source side.
  Stream& src_stream = src.device().is_cpu() ? Stream::cpu() : s;
  Tensor from = (src.is_contiguous() && src.dtype_ == dtype_) ? src : src.to(dtype_, src_stream).contiguous(src_stream);
  if (is_contiguous()) {
    cuda_api::memcpy(raw_data(), device(), from.raw_data(), from.device(), nbytes(), s);
  } else {
    Tensor staged = empty(shape_, dtype_, device().is_cpu() ? Stream::cpu() : s);
    cuda_api::memcpy(staged.raw_data(), device(), from.raw_data(), from.device(), nbytes(), s);
    copy_(staged, s);
  }
}

void Tensor::fill_(double value, Stream& s) const {
  SP_CHECK(defined(), "fill_: undefined tensor");
  if (numel() == 0) return;
  SP_CHECK(device().is_cpu() || s.device() == device(), "fill_: stream on ", s.device(), " for tensor on ",
           device());
  k_fill(device(), s, *this, value);
}

void Tensor::record_stream(Stream& s) const {
  SP_CHECK(defined(), "record_stream: undefined tensor");
  if (device().is_cpu()) return;
  SP_CHECK(s.device() == device(), "record_stream: tensor ", str(), " and stream on ", s.device());
  cuda_api::record_stream(storage_->data(), device(), s);
}

double Tensor::item(const Shape& index) const {
  SP_CHECK(device().is_cpu(), "item: tensor ", str(), " is not on the CPU");
  SP_CHECK(index.size() == dim(), "item: index ", index, " for ", str());
  int64_t off = 0;
  for (int i = 0; i < dim(); ++i) {
    SP_CHECK(index[i] >= 0 && index[i] < shape_[i], "item: index ", index, " out of range for ", str());
    off += index[i] * strides_[i];
  }
  double v = 0;
  SP_DISPATCH_ALL(dtype_, "item", v = to_double(static_cast<const scalar_t*>(raw_data())[off]));
  return v;
}

std::string Tensor::str() const {
  std::ostringstream os;
  os << dtype_name(dtype_) << shape_ << " " << device();
  return os.str();
}

void check_same_shape(const char* op, const Tensor& a, const Tensor& b) {
  SP_CHECK(a.shape() == b.shape(), op, ": shapes differ: ", a.str(), " vs ", b.str());
}

void check_same_device(const char* op, const Tensor& a, const Tensor& b) {
  SP_CHECK(a.device() == b.device(), op, ": devices differ: ", a.str(), " vs ", b.str());
}

}  // namespace sp
