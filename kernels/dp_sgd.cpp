// Kernel objects and validating wrappers for the DP-SGD kernels (see dp_sgd.h).
#include "kernels/dp_sgd.h"

#include <cmath>

#include "kernels/arg_check.h"

namespace sp {

constinit Kernel<RowSqNormFn> k_row_sq_norm("row_sq_norm");
constinit Kernel<ClipFactorsFn> k_clip_factors("clip_factors");
constinit Kernel<GaussianNoiseFn> k_gaussian_noise("gaussian_noise");

void row_sq_norm(Stream& s, const Tensor& out, const Tensor& g, double beta) {
  const char* op = "row_sq_norm";
  check_float_input(op, g, s, "g");
  SP_CHECK(g.dim() == 2, op, ": g ", g.str(), " must be [B, n]");
  check_operand(s, op, "out", out, {g.size(0)}, g.dtype(), g.device());
  if (out.numel() == 0) return;
  k_row_sq_norm(g.device(), s, out, g, beta);
}

void clip_factors(Stream& s, const Tensor& factors, const Tensor& sq_norms, double clip_norm) {
  const char* op = "clip_factors";
  check_float_input(op, sq_norms, s, "sq_norms");
  SP_CHECK(sq_norms.dim() == 1, op, ": sq_norms ", sq_norms.str(), " must be [B]");
  SP_CHECK(clip_norm > 0 && std::isfinite(clip_norm), op, ": clip norm ", clip_norm, " must be positive");
  check_operand(s, op, "factors", factors, sq_norms.shape(), sq_norms.dtype(), sq_norms.device());
  if (factors.numel() == 0) return;
  k_clip_factors(sq_norms.device(), s, factors, sq_norms, clip_norm);
}

void add_gaussian_noise(Stream& s, const Tensor& y, double stddev, uint64_t key, uint64_t stream_id) {
  const char* op = "gaussian_noise";
  check_float_input(op, y, s, "y");
  SP_CHECK(stddev >= 0 && std::isfinite(stddev), op, ": stddev ", stddev, " must be finite and >= 0");
  if (y.numel() == 0 || stddev == 0) return;
  k_gaussian_noise(y.device(), s, y, stddev, key, stream_id);
}

}  // namespace sp
