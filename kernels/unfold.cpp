// Kernel object and validating wrapper for the per-example unfold (see unfold.h).
#include "kernels/unfold.h"

#include <algorithm>

#include "kernels/arg_check.h"

namespace sp {

constinit Kernel<UnfoldPerExampleFn> k_unfold_per_example("unfold_per_example");

Shape unfold_per_example_shape(const Conv2dGeom& g, int64_t copies) {
  SP_CHECK(copies >= 1 && g.n % copies == 0, "unfold_per_example: ", g.n, " samples are not ", copies,
           " copies of a batch");
  return {g.n / copies, g.c * g.kh * g.kw, copies * g.oh * g.ow};
}

UnfoldIndex make_unfold_index(const Conv2dGeom& g, int64_t copies) {
  Shape shape = unfold_per_example_shape(g, copies);
  const int64_t last = std::max<int64_t>(shape.numel() - 1, 0);
  UnfoldIndex u;
  u.b = g.n / copies, u.c = g.c, u.h = g.h, u.w = g.w, u.kh = g.kh, u.kw = g.kw, u.oh = g.oh, u.ow = g.ow;
  u.sh = g.sh, u.sw = g.sw, u.ph = g.ph, u.pw = g.pw, u.dh = g.dh, u.dw = g.dw;
  u.cols = IndexDiv(std::max<int64_t>(shape[2], 1), last);
  u.rows = IndexDiv(std::max<int64_t>(shape[1], 1), last);
  u.plane = IndexDiv(std::max<int64_t>(g.oh * g.ow, 1), last);
  u.out_w = IndexDiv(std::max<int64_t>(g.ow, 1), last);
  u.taps = IndexDiv(std::max<int64_t>(g.kh * g.kw, 1), last);
  u.tap_w = IndexDiv(std::max<int64_t>(g.kw, 1), last);
  return u;
}

void unfold_per_example(Stream& s, const Tensor& out, const Tensor& x, const Conv2dGeom& g, int64_t copies) {
  const char* op = "unfold_per_example";
  SP_CHECK(g.groups == 1, op, ": grouped convolution (groups ", g.groups, ") is not supported");
  check_float_input(op, x, s, "x");
  SP_CHECK(x.shape() == g.x_shape(), op, ": x ", x.shape(), " does not match the geometry's ", g.x_shape());
  Shape want = unfold_per_example_shape(g, copies);
  check_operand(s, op, "out", out, want, x.dtype(), x.device());
  if (out.numel() == 0) return;
  k_unfold_per_example(x.device(), s, out, x, g, copies);
}

}  // namespace sp
