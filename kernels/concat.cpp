// Kernel objects and validating wrappers of concat (see concat.h).
#include "kernels/concat.h"

#include "kernels/arg_check.h"

namespace sp {

constinit Kernel<ConcatFn> k_concat("concat");
constinit Kernel<ConcatBackwardFn> k_concat_backward("concat_backward");

ConcatGeom concat_geom(const Shape& out, int axis) {
  ConcatGeom g;
  for (int d = 0; d < out.size(); ++d) {
    if (d < axis) g.outer *= out[d];
    if (d > axis) g.inner *= out[d];
  }
  g.total = out[axis];
  return g;
}

Shape concat_shape(std::span<const Tensor> parts, int axis) {
  SP_CHECK(!parts.empty(), "concat: no inputs");
  Shape out = parts[0].shape();
  int d = out.axis(axis, "concat");
  out[d] = 0;
  for (size_t i = 0; i < parts.size(); ++i) {
    const Shape& p = parts[i].shape();
    bool match = p.size() == out.size();
    for (int k = 0; match && k < p.size(); ++k) match = k == d || p[k] == out[k];
    SP_CHECK(match, "concat: input ", i, " ", parts[i].str(), " does not match input 0 ", parts[0].str(),
             " outside axis ", axis);
    out[d] += p[d];
  }
  return out;
}

void concat(Stream& s, const Tensor& out, std::span<const Tensor> parts, int axis) {
  Shape shape = concat_shape(parts, axis);
  for (const Tensor& p : parts) {
    check_float_operands("concat", s, out, {&p});
    check_contiguous("concat", "input", p);
  }
  SP_CHECK(out.shape() == shape, "concat: output ", out.str(), " should have shape ", shape);
  check_contiguous("concat", "output", out);
  if (out.numel() == 0) return;
  k_concat(out.device(), s, out, parts, out.shape().axis(axis, "concat"));
}

void concat_backward(Stream& s, std::span<const ConcatGrad> grads, const Tensor& gy, int axis) {
  int d = gy.shape().axis(axis, "concat_backward");
  for (const ConcatGrad& g : grads) {
    check_float_operands("concat_backward", s, gy, {&g.grad});
    check_contiguous("concat_backward", "gradient", g.grad);
    bool match = g.grad.dim() == gy.dim();
    for (int k = 0; match && k < gy.dim(); ++k) match = k == d || g.grad.size(k) == gy.size(k);
    SP_CHECK(match && g.start >= 0 && g.start + g.grad.size(d) <= gy.size(d),
             "concat_backward: gradient ", g.grad.str(), " at ", g.start, " does not fit in ", gy.str(),
             " along axis ", axis);
  }
  check_contiguous("concat_backward", "output gradient", gy);
  if (gy.numel() == 0 || grads.empty()) return;
  k_concat_backward(gy.device(), s, grads, gy, d);
}

}  // namespace sp
