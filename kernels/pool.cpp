// Kernel objects and validating wrappers for pooling (see pool.h).
#include "kernels/pool.h"

#include "kernels/arg_check.h"

namespace sp {

constinit Kernel<MaxPool2dFwdFn> k_max_pool2d_fwd("max_pool2d_fwd");
constinit Kernel<MaxPool2dBwdFn> k_max_pool2d_bwd("max_pool2d_bwd");
constinit Kernel<MaxPool2dGatherFn> k_max_pool2d_gather("max_pool2d_gather");
constinit Kernel<AvgPool2dFwdFn> k_avg_pool2d_fwd("avg_pool2d_fwd");
constinit Kernel<AvgPool2dBwdFn> k_avg_pool2d_bwd("avg_pool2d_bwd");
constinit Kernel<GlobalAvgPoolFwdFn> k_global_avg_pool_fwd("global_avg_pool_fwd");
constinit Kernel<GlobalAvgPoolBwdFn> k_global_avg_pool_bwd("global_avg_pool_bwd");

namespace {

void check_float(const char* op, const Tensor& t) {
  SP_CHECK(t.dtype() == DType::f32 || t.dtype() == DType::f64, op, ": dtype must be F32 or F64, got ", t.str());
}

Shape in_shape(const Pool2dGeom& g) { return pool_in_shape(g); }
Shape out_shape(const Pool2dGeom& g) { return pool_out_shape(g); }

}  // namespace

Pool2dGeom pool2d_geometry(const char* op, const Tensor& x, Hw kernel, Hw stride, Hw padding, Layout layout) {
  SP_CHECK(x.dim() == 4, op, ": input must be 4-D ", layout, ", got ", x.shape());
  check_float(op, x);
  SP_CHECK(kernel.h >= 1 && kernel.w >= 1 && stride.h >= 1 && stride.w >= 1, op, ": kernel ", kernel,
           " and stride ", stride, " must be positive (input ", x.shape(), ")");
  SP_CHECK(padding.h >= 0 && padding.w >= 0 && 2 * padding.h <= kernel.h && 2 * padding.w <= kernel.w, op,
           ": padding ", padding, " must be between 0 and half the kernel ", kernel, " (input ", x.shape(), ")");
  Pool2dGeom g;
  const bool last = layout == Layout::nhwc;
  g.layout = layout;
  g.n = x.size(0), g.c = x.size(last ? 3 : 1), g.h = x.size(last ? 1 : 2), g.w = x.size(last ? 2 : 3);
  g.kh = kernel.h, g.kw = kernel.w, g.sh = stride.h, g.sw = stride.w, g.ph = padding.h, g.pw = padding.w;
  SP_CHECK(g.h + 2 * g.ph >= g.kh && g.w + 2 * g.pw >= g.kw, op, ": kernel ", kernel,
           " is larger than the padded input ", x.shape(), " with padding ", padding);
  SP_CHECK(g.h * g.w < (int64_t(1) << 31), op, ": input plane ", x.shape(), " too large for 32-bit argmax");
  g.oh = (g.h + 2 * g.ph - g.kh) / g.sh + 1;
  g.ow = (g.w + 2 * g.pw - g.kw) / g.sw + 1;
  return g;
}

void max_pool2d_forward(Stream& s, const Tensor& y, const Tensor& arg, const Tensor& x, const Pool2dGeom& g) {
  check_operand(s, "max_pool2d", "input", x, in_shape(g), x.dtype(), x.device());
  check_operand(s, "max_pool2d", "output", y, out_shape(g), x.dtype(), x.device());
  check_operand(s, "max_pool2d", "argmax", arg, out_shape(g), DType::i32, x.device());
  if (y.numel() == 0) return;
  k_max_pool2d_fwd(x.device(), s, y, arg, x, g);
}

void max_pool2d_backward(Stream& s, const Tensor& dx, const Tensor& gy, const Tensor& arg, const Pool2dGeom& g,
                         double beta) {
  check_operand(s, "max_pool2d backward", "gradient", gy, out_shape(g), gy.dtype(), gy.device());
  check_float("max_pool2d backward", gy);
  check_operand(s, "max_pool2d backward", "input gradient", dx, in_shape(g), gy.dtype(), gy.device());
  check_operand(s, "max_pool2d backward", "argmax", arg, out_shape(g), DType::i32, gy.device());
  if (dx.numel() == 0) return;
  k_max_pool2d_bwd(dx.device(), s, dx, gy, arg, g, beta);
}

void max_pool2d_gather(Stream& s, const Tensor& y, const Tensor& x, const Tensor& arg, const Pool2dGeom& g) {
  check_operand(s, "max_pool2d_gather", "input", x, in_shape(g), x.dtype(), x.device());
  check_float("max_pool2d_gather", x);
  check_operand(s, "max_pool2d_gather", "output", y, out_shape(g), x.dtype(), x.device());
  check_operand(s, "max_pool2d_gather", "argmax", arg, out_shape(g), DType::i32, x.device());
  if (y.numel() == 0) return;
  k_max_pool2d_gather(x.device(), s, y, x, arg, g);
}

void avg_pool2d_forward(Stream& s, const Tensor& y, const Tensor& x, const Pool2dGeom& g) {
  check_operand(s, "avg_pool2d", "input", x, in_shape(g), x.dtype(), x.device());
  check_operand(s, "avg_pool2d", "output", y, out_shape(g), x.dtype(), x.device());
  if (y.numel() == 0) return;
  k_avg_pool2d_fwd(x.device(), s, y, x, g);
}

void avg_pool2d_backward(Stream& s, const Tensor& dx, const Tensor& gy, const Pool2dGeom& g, double beta) {
  check_operand(s, "avg_pool2d backward", "gradient", gy, out_shape(g), gy.dtype(), gy.device());
  check_float("avg_pool2d backward", gy);
  check_operand(s, "avg_pool2d backward", "input gradient", dx, in_shape(g), gy.dtype(), gy.device());
  if (dx.numel() == 0) return;
  k_avg_pool2d_bwd(dx.device(), s, dx, gy, g, beta);
}

void global_avg_pool_forward(Stream& s, const Tensor& y, const Tensor& x, Layout layout) {
  SP_CHECK(x.dim() == 4, "global_avg_pool: input must be 4-D ", layout, ", got ", x.shape());
  check_float("global_avg_pool", x);
  const int ca = channel_axis(layout);
  check_operand(s, "global_avg_pool", "input", x, x.shape(), x.dtype(), x.device());
  check_operand(s, "global_avg_pool", "output", y, {x.size(0), x.size(ca)}, x.dtype(), x.device());
  SP_CHECK(x.numel() > 0 || y.numel() == 0, "global_avg_pool: empty planes in ", layout, " input ", x.shape());
  if (y.numel() == 0) return;
  k_global_avg_pool_fwd(x.device(), s, y, x, layout);
}

void global_avg_pool_backward(Stream& s, const Tensor& dx, const Tensor& gy, double beta, Layout layout) {
  SP_CHECK(dx.dim() == 4, "global_avg_pool backward: input gradient must be 4-D ", layout, ", got ", dx.shape());
  check_float("global_avg_pool backward", gy);
  const int ca = channel_axis(layout);
  check_operand(s, "global_avg_pool backward", "gradient", gy, {dx.size(0), dx.size(ca)}, dx.dtype(), dx.device());
  check_operand(s, "global_avg_pool backward", "input gradient", dx, dx.shape(), gy.dtype(), gy.device());
  if (dx.numel() == 0) return;
  k_global_avg_pool_bwd(dx.device(), s, dx, gy, beta, layout);
}

}  // namespace sp
