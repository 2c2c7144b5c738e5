// CPU copy (strided, converting) and fill kernels. Tested in tests/test_tensor.cpp.
#include "kernels/copy.h"

#include "kernels/dispatch.h"
#include "kernels/elem.h"

namespace sp {
namespace {

template <class D, class S>
void copy_typed(const Tensor& dst, const Tensor& src) {
  D* d = static_cast<D*>(dst.raw_data());
  const S* s = static_cast<const S*>(src.raw_data());
  int64_t n = dst.numel();
  if (dst.is_contiguous() && src.is_contiguous()) {
    for (int64_t i = 0; i < n; ++i) d[i] = from_double<D>(to_double(s[i]));
    return;
  }
  Indexer di(dst.shape(), dst.strides()), si(src.shape(), src.strides());
  for (int64_t i = 0; i < n; ++i) d[di.offset(i)] = from_double<D>(to_double(s[si.offset(i)]));
}

void copy_cpu(Stream&, const Tensor& dst, const Tensor& src) {
  if (dst.dtype() == src.dtype() && dst.is_contiguous() && src.is_contiguous()) {
    memmove(dst.raw_data(), src.raw_data(), dst.nbytes());
    return;
  }
  SP_DISPATCH_ALL(dst.dtype(), "copy", {
    using D = scalar_t;
    SP_DISPATCH_ALL(src.dtype(), "copy", (copy_typed<D, scalar_t>(dst, src)));
  });
}

void fill_cpu(Stream&, const Tensor& dst, double value) {
  SP_DISPATCH_ALL(dst.dtype(), "fill", {
    scalar_t v = from_double<scalar_t>(value);
    scalar_t* d = static_cast<scalar_t*>(dst.raw_data());
    Indexer ix(dst.shape(), dst.strides());
    int64_t n = dst.numel();
    if (dst.is_contiguous())
      for (int64_t i = 0; i < n; ++i) d[i] = v;
    else
      for (int64_t i = 0; i < n; ++i) d[ix.offset(i)] = v;
  });
}

}  // namespace

SP_REGISTER_KERNEL(k_copy, CPU, copy_cpu);
SP_REGISTER_KERNEL(k_fill, CPU, fill_cpu);

}  // namespace sp
