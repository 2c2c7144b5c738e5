// Kernel object and validating wrapper of the integer remap (see remap.h).
#include "kernels/remap.h"

#include "kernels/arg_check.h"

namespace sp {

constinit Kernel<RemapFn> k_remap("remap");

void remap_forward(Stream& s, const Tensor& y, const Tensor& x, const Tensor& params, bool inverse, double beta,
                   const char* op) {
  check_float_input(op, x, s);
  SP_CHECK(x.dim() == 4, op, ": input must be 4-D NCHW, got ", x.shape());
  check_operand(s, op, "output", y, x.shape(), x.dtype(), x.device());
  SP_CHECK(params.defined(), op, ": params is undefined");
  check_operand(s, op, "params (rows dy, dx, flip)", params, {x.size(0), 3}, DType::i32, x.device());
  if (y.numel() == 0) return;
  k_remap(x.device(), s, y, x, params, inverse, beta);
}

}  // namespace sp
