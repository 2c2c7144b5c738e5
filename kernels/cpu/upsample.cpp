// CPU nearest upsampling and its backward (see kernels/upsample.h); index math in kernels/shape_math.h.
#include "kernels/dispatch.h"
#include "kernels/elementwise_math.h"
#include "kernels/shape_math.h"
#include "kernels/upsample.h"

namespace sp {
namespace {

void upsample_cpu(Stream&, const Tensor& y, const Tensor& x, int64_t sh, int64_t sw) {
  int64_t H = x.size(2), W = x.size(3);
  SP_DISPATCH_FLOAT(x.dtype(), "upsample_nearest", {
    scalar_t* yp = y.data<scalar_t>();
    const scalar_t* xp = x.data<scalar_t>();
    for (int64_t e = 0, n = y.numel(); e < n; ++e) yp[e] = xp[upsample_src_index(e, H, W, sh, sw)];
  });
}

void upsample_backward_cpu(Stream&, const Tensor& gx, const Tensor& gy, int64_t sh, int64_t sw, double beta) {
  int64_t H = gx.size(2), W = gx.size(3);
  SP_DISPATCH_FLOAT(gx.dtype(), "upsample_nearest_backward", {
    scalar_t* g = gx.data<scalar_t>();
    const scalar_t* gyp = gy.data<scalar_t>();
    for (int64_t e = 0, n = gx.numel(); e < n; ++e)
      g[e] = blend(upsample_grad_sum(gyp, e, H, W, sh, sw), scalar_t(1), scalar_t(beta), g + e);
  });
}

}  // namespace

SP_REGISTER_KERNEL(k_upsample_nearest, CPU, upsample_cpu);
SP_REGISTER_KERNEL(k_upsample_nearest_backward, CPU, upsample_backward_cpu);

}  // namespace sp
