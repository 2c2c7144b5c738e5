// CPU axpby (see kernels/axpby.h).
#include "kernels/axpby.h"
#include "kernels/dispatch.h"

namespace sp {
namespace {
void axpby_cpu(Stream&, const Tensor& y, const Tensor& x, double a, double b) {
  SP_DISPATCH_FLOAT(x.dtype(), "axpby", {
    scalar_t* yp = y.data<scalar_t>();
    const scalar_t* xp = x.data<scalar_t>();
    scalar_t sa = scalar_t(a), sb = scalar_t(b);
    int64_t n = x.numel();
    if (b == 0.0)
      for (int64_t i = 0; i < n; ++i) yp[i] = sa * xp[i];
    else
      for (int64_t i = 0; i < n; ++i) yp[i] = sa * xp[i] + sb * yp[i];
  });
}
}  // namespace
SP_REGISTER_KERNEL(k_axpby, CPU, axpby_cpu);
}  // namespace sp
