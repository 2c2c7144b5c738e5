// Kernel objects and validating wrappers of the elementwise family (see elementwise.h).
#include "kernels/elementwise.h"

#include "kernels/arg_check.h"

namespace sp {

constinit Kernel<ActivationFn> k_activation("activation");
constinit Kernel<ActivationBackwardFn> k_activation_backward("activation_backward");
constinit Kernel<BinaryFn> k_binary("binary");

Shape broadcast_shapes(const char* op, const Shape& a, const Shape& b) {
  int n = std::max(a.size(), b.size());
  Shape out;
  for (int i = 0; i < n; ++i) {
    int ia = i - (n - a.size()), ib = i - (n - b.size());
    int64_t da = ia >= 0 ? a[ia] : 1, db = ib >= 0 ? b[ib] : 1;
    SP_CHECK(da == db || da == 1 || db == 1, op, ": shapes ", a, " and ", b, " cannot be broadcast (dim ", i,
             ": ", da, " vs ", db, ")");
    out.push_back(da == 1 ? db : da);
  }
  return out;
}

StridedIter<2> binary_iter(const Tensor& out, const Tensor& a, const Tensor& b) {
  return make_strided_iter<2>(out.shape(), {a.expand(out.shape()).strides(), b.expand(out.shape()).strides()});
}

void activation(Stream& s, const Tensor& y, const Tensor& x, Act act, double slope) {
  const char* op = act_name(act);
  check_float_operands(op, s, y, {&x});
  check_same_shape(op, y, x);
  check_contiguous(op, "output", y);
  if (y.numel() == 0) return;
  k_activation(y.device(), s, y, x, act, slope);
}

void activation_backward(Stream& s, const Tensor& gx, const Tensor& gy, const Tensor& saved, Act act,
                         double slope, double beta) {
  const char* op = act_name(act);
  check_float_operands(op, s, gx, {&gy, &saved});
  check_same_shape(op, gx, gy);
  check_same_shape(op, gx, saved);
  check_contiguous(op, "input gradient", gx);
  check_contiguous(op, "output gradient", gy);
  if (gx.numel() == 0) return;
  k_activation_backward(gx.device(), s, gx, gy, saved, act, slope, beta);
}

void binary(Stream& s, const Tensor& out, const Tensor& a, const Tensor& b, BinaryOp op, double alpha,
            double beta) {
  const char* name = binary_name(op);
  check_float_operands(name, s, a, {&b, &out});
  Shape shape = broadcast_shapes(name, a.shape(), b.shape());
  SP_CHECK(out.shape() == shape, name, ": output ", out.str(), " does not have the broadcast shape ", shape,
           " of ", a.str(), " and ", b.str());
  check_contiguous(name, "output", out);
  if (out.numel() == 0) return;
  k_binary(out.device(), s, out, a, b, op, alpha, beta);
}

}  // namespace sp
