// Kernel object and validating wrapper for round_bf16 (see round_bf16.h).
#include "kernels/round_bf16.h"

namespace sp {

constinit Kernel<RoundBf16Fn> k_round_bf16("round_bf16");

void round_bf16(Stream& s, const Tensor& y, const Tensor& x, double beta) {
  check_same_shape("round_bf16", y, x);
  check_same_device("round_bf16", y, x);
  SP_CHECK(y.dtype() == x.dtype() && (x.dtype() == DType::f32 || x.dtype() == DType::f64),
           "round_bf16: needs f32 or f64 tensors of one dtype, got ", y.str(), " and ", x.str());
  SP_CHECK(y.is_contiguous() && x.is_contiguous(), "round_bf16: needs contiguous tensors, got ", y.str(), " and ",
           x.str());
  if (x.numel() == 0) return;
  k_round_bf16(y.device(), s, y, x, beta);
}

}  // namespace sp
