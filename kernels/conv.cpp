// Kernel objects, geometry validation and checked wrappers for conv2d (see conv.h).
#include "kernels/conv.h"

#include "kernels/arg_check.h"
#include "kernels/axpby.h"

namespace sp {

constinit Kernel<Conv2dFwdFn> k_conv2d_fwd("conv2d_fwd");
constinit Kernel<Conv2dBwdDataFn> k_conv2d_bwd_data("conv2d_bwd_data");
constinit Kernel<Conv2dBwdFilterFn> k_conv2d_bwd_filter("conv2d_bwd_filter");

Conv2dGeom conv2d_geometry(const Tensor& x, const Tensor& w, const Conv2dParams& p) {
  SP_CHECK(x.dim() == 4 && w.dim() == 4, "conv2d: input ", x.shape(), " must be 4-D ", p.layout, " and weight ",
           w.shape(), " [O, C/groups, kh, kw]");
  SP_CHECK(x.dtype() == w.dtype() && (x.dtype() == DType::f32 || x.dtype() == DType::f64),
           "conv2d: input ", x.str(), " and weight ", w.str(), " need one dtype, F32 or F64");
  SP_CHECK(x.device() == w.device(), "conv2d: input ", x.str(), " and weight ", w.str(), " on different devices");
  SP_CHECK(p.stride.h >= 1 && p.stride.w >= 1 && p.dilation.h >= 1 && p.dilation.w >= 1 && p.padding.h >= 0 &&
               p.padding.w >= 0 && p.groups >= 1,
           "conv2d: stride ", p.stride, ", dilation ", p.dilation, " and groups ", p.groups,
           " must be positive and padding ", p.padding, " non-negative (input ", x.shape(), ", weight ", w.shape(),
           ")");
  Conv2dGeom g;
  const bool last = p.layout == Layout::nhwc;
  g.layout = p.layout;
  g.n = x.size(0), g.c = x.size(last ? 3 : 1), g.h = x.size(last ? 1 : 2), g.w = x.size(last ? 2 : 3);
  g.o = w.size(0), g.kh = w.size(2), g.kw = w.size(3);
  g.sh = p.stride.h, g.sw = p.stride.w, g.ph = p.padding.h, g.pw = p.padding.w;
  g.dh = p.dilation.h, g.dw = p.dilation.w, g.groups = p.groups;
  SP_CHECK(g.c % g.groups == 0 && g.o % g.groups == 0, "conv2d: groups ", g.groups, " must divide the ", g.c,
           " input channels of ", x.shape(), " and the ", g.o, " filters of ", w.shape());
  SP_CHECK(w.size(1) == g.c / g.groups, "conv2d: weight ", w.shape(), " expects ", w.size(1) * g.groups,
           " input channels (", w.size(1), " per group x ", g.groups, " groups) but ", p.layout, " input ", x.shape(),
           " has ", g.c);
  SP_CHECK(g.kh >= 1 && g.kw >= 1, "conv2d: empty kernel in weight ", w.shape());
  int64_t ekh = g.dh * (g.kh - 1) + 1, ekw = g.dw * (g.kw - 1) + 1;
  SP_CHECK(g.h + 2 * g.ph >= ekh && g.w + 2 * g.pw >= ekw, "conv2d: kernel ", Hw(ekh, ekw),
           " (dilated) is larger than the padded input: input ", x.shape(), ", padding ", p.padding, ", weight ",
           w.shape());
  g.oh = (g.h + 2 * g.ph - ekh) / g.sh + 1;
  g.ow = (g.w + 2 * g.pw - ekw) / g.sw + 1;
  return g;
}

namespace {
void scale_by_beta(Stream& s, const Tensor& t, double beta) {
  if (beta == 0.0)
    Tensor(t).zero_(s);  // a handle copy: the elements are the output
  else
    axpby(s, t, t, 0.0, beta);
}
}  // namespace

void conv2d_forward(Stream& s, const Tensor& y, const Tensor& x, const Tensor& w, const Conv2dGeom& g) {
  DType dt = x.dtype();
  check_operand(s, "conv2d", "input", x, g.x_shape(), dt, x.device());
  check_operand(s, "conv2d", "weight", w, g.w_shape(), dt, x.device());
  check_operand(s, "conv2d", "output", y, g.y_shape(), dt, x.device());
  if (y.numel() == 0) return;
  k_conv2d_fwd(x.device(), s, y, x, w, g);
}

void conv2d_backward_data(Stream& s, const Tensor& dx, const Tensor& gy, const Tensor& w, const Conv2dGeom& g,
                          double beta) {
  DType dt = gy.dtype();
  check_operand(s, "conv2d backward data", "output gradient", gy, g.y_shape(), dt, gy.device());
  check_operand(s, "conv2d backward data", "weight", w, g.w_shape(), dt, gy.device());
  check_operand(s, "conv2d backward data", "input gradient", dx, g.x_shape(), dt, gy.device());
  if (dx.numel() == 0) return;
  if (gy.numel() == 0) return scale_by_beta(s, dx, beta);  // no filters: nothing flows back
  k_conv2d_bwd_data(gy.device(), s, dx, gy, w, g, beta);
}

void conv2d_backward_filter(Stream& s, const Tensor& dw, const Tensor& gy, const Tensor& x, const Conv2dGeom& g,
                            double beta) {
  DType dt = gy.dtype();
  check_operand(s, "conv2d backward filter", "output gradient", gy, g.y_shape(), dt, gy.device());
  check_operand(s, "conv2d backward filter", "input", x, g.x_shape(), dt, gy.device());
  check_operand(s, "conv2d backward filter", "weight gradient", dw, g.w_shape(), dt, gy.device());
  if (dw.numel() == 0) return;
  if (gy.numel() == 0) return scale_by_beta(s, dw, beta);  // empty batch or output: an empty sum
  k_conv2d_bwd_filter(gy.device(), s, dw, gy, x, g, beta);
}

}  // namespace sp
