// Kernel objects and validating wrappers for the per-channel bias (see bias.h).
#include "kernels/bias.h"

namespace sp {

constinit Kernel<ChannelBiasFwdFn> k_channel_bias_fwd("channel_bias_fwd");
constinit Kernel<ChannelBiasBwdFn> k_channel_bias_bwd("channel_bias_bwd");

namespace {
struct Split {
  int64_t outer, channels, inner;
};
Split check(Stream& s, const Tensor& t, const Tensor& b, const char* op, const char* what) {
  SP_CHECK(t.dim() >= 2, op, ": ", what, " needs an input of rank >= 2 with channels on axis 1, got ", t.shape());
  SP_CHECK(b.dim() == 1 && b.size(0) == t.size(1), op, ": bias ", b.shape(), " does not match ", t.size(1),
           " channels of ", t.shape());
  SP_CHECK(t.dtype() == b.dtype() && (t.dtype() == DType::f32 || t.dtype() == DType::f64), op, ": ", what,
           " dtypes ", t.str(), " and ", b.str(), " (need equal F32 or F64)");
  check_same_device(op, t, b);
  SP_CHECK(s.device() == t.device(), op, ": tensors on ", t.device(), " but stream on ", s.device());
  SP_CHECK(t.is_contiguous() && b.is_contiguous(), op, ": ", what, " needs contiguous tensors, got ", t.str(),
           " and ", b.str());
  int64_t inner = 1;
  for (int d = 2; d < t.dim(); ++d) inner *= t.size(d);
  return {t.size(0), t.size(1), inner};
}
}  // namespace

void channel_bias_add(Stream& s, const Tensor& y, const Tensor& b, const char* op) {
  Split p = check(s, y, b, op, "bias add");
  if (y.numel() == 0) return;
  k_channel_bias_fwd(y.device(), s, y, b, p.outer, p.channels, p.inner);
}

void channel_bias_grad(Stream& s, const Tensor& db, const Tensor& gy, double beta, const char* op) {
  Split p = check(s, gy, db, op, "bias gradient");
  if (db.numel() == 0) return;
  k_channel_bias_bwd(gy.device(), s, db, gy, p.outer, p.channels, p.inner, beta);
}

}  // namespace sp
