// Kernel object and validating wrapper for axpby (see axpby.h).
#include "kernels/axpby.h"

namespace sp {

constinit Kernel<AxpbyFn> k_axpby("axpby");

void axpby(Stream& s, const Tensor& y, const Tensor& x, double a, double b) {
  check_same_shape("axpby", y, x);
  check_same_device("axpby", y, x);
  SP_CHECK(y.dtype() == x.dtype() && is_floating(x.dtype()), "axpby: dtypes ", y.str(), " and ", x.str());
  SP_CHECK(y.is_contiguous() && x.is_contiguous(), "axpby: needs contiguous tensors, got ", y.str(), " and ",
           x.str());
  if (x.numel() == 0) return;
  k_axpby(y.device(), s, y, x, a, b);
}

}  // namespace sp
