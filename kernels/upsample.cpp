// Kernel objects and validating wrappers of upsample_nearest (see upsample.h).
#include "kernels/upsample.h"

#include "kernels/arg_check.h"

namespace sp {

constinit Kernel<UpsampleFn> k_upsample_nearest("upsample_nearest");
constinit Kernel<UpsampleBackwardFn> k_upsample_nearest_backward("upsample_nearest_backward");

Shape upsample_nearest_shape(const Shape& x, int64_t sh, int64_t sw) {
  SP_CHECK(x.size() == 4, "upsample_nearest: input ", x, " is not NCHW");
  SP_CHECK(sh >= 1 && sw >= 1, "upsample_nearest: scale factors (", sh, ", ", sw, ") must be >= 1 for input ", x);
  return {x[0], x[1], x[2] * sh, x[3] * sw};
}

void upsample_nearest(Stream& s, const Tensor& y, const Tensor& x, int64_t sh, int64_t sw) {
  check_float_operands("upsample_nearest", s, x, {&y});
  Shape shape = upsample_nearest_shape(x.shape(), sh, sw);
  SP_CHECK(y.shape() == shape, "upsample_nearest: output ", y.str(), " should be ", shape, " for ", x.str());
  check_contiguous("upsample_nearest", "input", x);
  check_contiguous("upsample_nearest", "output", y);
  if (y.numel() == 0) return;
  k_upsample_nearest(y.device(), s, y, x, sh, sw);
}

void upsample_nearest_backward(Stream& s, const Tensor& gx, const Tensor& gy, int64_t sh, int64_t sw,
                               double beta) {
  check_float_operands("upsample_nearest_backward", s, gx, {&gy});
  Shape shape = upsample_nearest_shape(gx.shape(), sh, sw);
  SP_CHECK(gy.shape() == shape, "upsample_nearest_backward: output gradient ", gy.str(), " should be ", shape,
           " for ", gx.str());
  check_contiguous("upsample_nearest_backward", "input gradient", gx);
  check_contiguous("upsample_nearest_backward", "output gradient", gy);
  if (gx.numel() == 0) return;
  k_upsample_nearest_backward(gx.device(), s, gx, gy, sh, sw, beta);
}

}  // namespace sp
