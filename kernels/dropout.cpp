// Kernel object and validating wrapper of the dropout mask (see dropout.h).
#include "kernels/dropout.h"

#include "kernels/arg_check.h"

namespace sp {

constinit Kernel<DropoutMaskFn> k_dropout_mask("dropout_mask");

void dropout_mask(Stream& s, const Tensor& mask, double p, uint64_t key, uint64_t stream_id) {
  const char* op = "dropout";
  check_float_input(op, mask, s, "mask");
  SP_CHECK(p >= 0.0 && p < 1.0, op, ": probability ", p, " must be in [0, 1)");
  if (mask.numel() == 0) return;
  k_dropout_mask(mask.device(), s, mask, p, key, stream_id);
}

}  // namespace sp
