// Kernel object and validating wrapper for the unfold (see unfold.h).
#include "kernels/unfold.h"

#include <algorithm>

#include "kernels/arg_check.h"

namespace sp {

constinit Kernel<UnfoldFn> k_unfold("unfold");

Shape unfold_shape(const Conv2dGeom& g) { return {g.n, g.c * g.kh * g.kw, g.oh * g.ow}; }

UnfoldIndex make_unfold_index(const Conv2dGeom& g) {
  const int64_t last = std::max<int64_t>(unfold_shape(g).numel() - 1, 0);
  UnfoldIndex u;
  u.c = g.c, u.h = g.h, u.w = g.w, u.sh = g.sh, u.sw = g.sw, u.ph = g.ph, u.pw = g.pw, u.dh = g.dh, u.dw = g.dw;
  u.plane = IndexDiv(std::max<int64_t>(g.oh * g.ow, 1), last);
  u.rows = IndexDiv(std::max<int64_t>(g.c * g.kh * g.kw, 1), last);
  u.out_w = IndexDiv(std::max<int64_t>(g.ow, 1), last);
  u.taps = IndexDiv(std::max<int64_t>(g.kh * g.kw, 1), last);
  u.tap_w = IndexDiv(std::max<int64_t>(g.kw, 1), last);
  return u;
}

void unfold(Stream& s, const Tensor& out, const Tensor& x, const Conv2dGeom& g) {
  const char* op = "unfold";
  SP_CHECK(g.groups == 1, op, ": grouped convolution (groups ", g.groups, ") is not supported");
  check_float_input(op, x, s, "x");
  SP_CHECK(x.shape() == g.x_shape(), op, ": x ", x.shape(), " does not match the geometry's ", g.x_shape());
  check_operand(s, op, "out", out, unfold_shape(g), x.dtype(), x.device());
  if (out.numel() == 0) return;
  k_unfold(x.device(), s, out, x, g);
}

}  // namespace sp
