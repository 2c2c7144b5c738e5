// Kernel objects and validating wrappers for log-softmax and softmax (see softmax.h).
#include "kernels/softmax.h"

namespace sp {

constinit Kernel<LogSoftmaxFwdFn> k_log_softmax_fwd("log_softmax_fwd");
constinit Kernel<LogSoftmaxBwdFn> k_log_softmax_bwd("log_softmax_bwd");
constinit Kernel<SoftmaxFwdFn> k_softmax_fwd("softmax_fwd");
constinit Kernel<SoftmaxBwdFn> k_softmax_bwd("softmax_bwd");

namespace {
void check_pair(const char* op, const Tensor& a, const Tensor& b, Stream& s) {
  check_same_shape(op, a, b);
  check_same_device(op, a, b);
  SP_CHECK(a.dtype() == b.dtype() && (a.dtype() == DType::f32 || a.dtype() == DType::f64), op, ": dtypes ", a.str(),
           " and ", b.str(), " must both be f32 or both f64");
  SP_CHECK(a.is_contiguous() && b.is_contiguous(), op, ": needs contiguous tensors, got ", a.str(), " and ", b.str());
  SP_CHECK(a.device() == s.device(), op, ": tensors on ", a.device(), ", stream on ", s.device());
  SP_CHECK(a.dim() >= 1, op, ": needs at least one dimension, got ", a.str());
}
}  // namespace

void log_softmax_forward(Stream& s, const Tensor& y, const Tensor& x) {
  check_pair("log_softmax", y, x, s);
  if (x.numel() == 0) return;
  k_log_softmax_fwd(x.device(), s, y, x);
}

void log_softmax_backward(Stream& s, const Tensor& dx, const Tensor& dy, const Tensor& y, double beta) {
  check_pair("log_softmax backward", dx, dy, s);
  check_pair("log_softmax backward", dy, y, s);
  if (y.numel() == 0) return;
  k_log_softmax_bwd(y.device(), s, dx, dy, y, beta);
}

void softmax_forward(Stream& s, const Tensor& y, const Tensor& x) {
  check_pair("softmax", y, x, s);
  if (x.numel() == 0) return;
  k_softmax_fwd(x.device(), s, y, x);
}

void softmax_backward(Stream& s, const Tensor& dx, const Tensor& dy, const Tensor& y, double beta) {
  check_pair("softmax backward", dx, dy, s);
  check_pair("softmax backward", dy, y, s);
  if (y.numel() == 0) return;
  k_softmax_bwd(y.device(), s, dx, dy, y, beta);
}

}  // namespace sp
