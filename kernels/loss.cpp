// Kernel objects and validating wrappers for the losses (see loss.h).
#include "kernels/loss.h"

#include "kernels/arg_check.h"

namespace sp {

constinit Kernel<CrossEntropyFwdFn> k_cross_entropy_fwd("cross_entropy_fwd");
constinit Kernel<CrossEntropyBwdFn> k_cross_entropy_bwd("cross_entropy_bwd");
constinit Kernel<SoftCrossEntropyFwdFn> k_soft_cross_entropy_fwd("soft_cross_entropy_fwd");
constinit Kernel<SoftCrossEntropyBwdFn> k_soft_cross_entropy_bwd("soft_cross_entropy_bwd");
constinit Kernel<KlDivFwdFn> k_kl_div_fwd("kl_div_fwd");
constinit Kernel<KlDivBwdFn> k_kl_div_bwd("kl_div_bwd");
constinit Kernel<MseFwdFn> k_mse_fwd("mse_fwd");
constinit Kernel<MseBwdFn> k_mse_bwd("mse_bwd");

namespace {

const Shape kScalar{};

// logits must be a non-empty [N, C] floating tensor on the stream's device.
void check_logits(const char* op, const Tensor& logits, Stream& s, const char* what = "logits") {
  check_float_input(op, logits, s, what);
  SP_CHECK(logits.dim() == 2 && logits.numel() > 0, op, ": ", what, " ", logits.str(), " must be a non-empty [N, C]");
}

void check_smoothing(const char* op, double smoothing) {
  SP_CHECK(smoothing >= 0.0 && smoothing <= 1.0, op, ": label smoothing ", smoothing, " outside [0, 1]");
}

void check_labels(const char* op, const Tensor& labels, const Tensor& logits) {
  SP_CHECK(labels.defined(), op, ": labels are undefined");
  SP_CHECK(labels.dtype() == DType::i64, op, ": labels ", labels.str(), " must be int64 (I64)");
  SP_CHECK(labels.dim() == 1 && labels.size(0) == logits.size(0), op, ": labels ", labels.str(),
           " must be [N] for logits ", logits.str());
  SP_CHECK(labels.is_contiguous(), op, ": labels ", labels.str(), " must be contiguous");
  SP_CHECK(labels.device() == logits.device(), op, ": labels ", labels.str(), " and logits ", logits.str(),
           " are on different devices");
  if (!labels.device().is_cpu()) return;  // the CUDA kernels mark bad rows with NaN instead
  const int64_t* y = labels.data<int64_t>();
  const int64_t C = logits.size(1);
  for (int64_t i = 0; i < labels.numel(); ++i)
    SP_CHECK(y[i] >= 0 && y[i] < C, op, ": label ", y[i], " at index ", i, " is outside [0, ", C, ") for logits ",
             logits.str());
}

}  // namespace

void cross_entropy_forward(Stream& s, const Tensor& loss, const Tensor& lse, const Tensor& logits, const Tensor& labels,
                           double smoothing) {
  const char* op = "cross_entropy";
  check_logits(op, logits, s);
  check_labels(op, labels, logits);
  check_smoothing(op, smoothing);
  check_arg_like(op, "loss", loss, logits, kScalar, true);
  check_arg_like(op, "lse", lse, logits, {logits.size(0)}, true);
  k_cross_entropy_fwd(logits.device(), s, loss, lse, logits, labels, smoothing);
}

void cross_entropy_backward(Stream& s, const Tensor& dlogits, const Tensor& grad_loss, const Tensor& logits,
                            const Tensor& labels, const Tensor& lse, double smoothing, double beta) {
  const char* op = "cross_entropy backward";
  check_logits(op, logits, s);
  check_labels(op, labels, logits);
  check_smoothing(op, smoothing);
  check_arg_like(op, "grad_logits", dlogits, logits, logits.shape(), true);
  check_arg_like(op, "grad_loss", grad_loss, logits, kScalar, true);
  check_arg_like(op, "lse", lse, logits, {logits.size(0)}, true);
  k_cross_entropy_bwd(logits.device(), s, dlogits, grad_loss, logits, labels, lse, smoothing, beta);
}

void soft_cross_entropy_forward(Stream& s, const Tensor& loss, const Tensor& lse, const Tensor& target_sum,
                                const Tensor& logits, const Tensor& targets, double smoothing) {
  const char* op = "cross_entropy (soft targets)";
  check_logits(op, logits, s);
  check_smoothing(op, smoothing);
  check_arg_like(op, "targets", targets, logits, logits.shape(), true);
  check_arg_like(op, "loss", loss, logits, kScalar, true);
  check_arg_like(op, "lse", lse, logits, {logits.size(0)}, true);
  check_arg_like(op, "target_sum", target_sum, logits, {logits.size(0)}, true);
  k_soft_cross_entropy_fwd(logits.device(), s, loss, lse, target_sum, logits, targets, smoothing);
}

void soft_cross_entropy_backward(Stream& s, const Tensor& dlogits, const Tensor& dtargets, const Tensor& grad_loss,
                                 const Tensor& logits, const Tensor& targets, const Tensor& lse,
                                 const Tensor& target_sum, double smoothing, double beta_logits, double beta_targets) {
  const char* op = "cross_entropy (soft targets) backward";
  check_logits(op, logits, s);
  check_smoothing(op, smoothing);
  check_arg_like(op, "targets", targets, logits, logits.shape(), true);
  check_arg_like(op, "grad_logits", dlogits, logits, logits.shape(), false);
  check_arg_like(op, "grad_targets", dtargets, logits, logits.shape(), false);
  check_arg_like(op, "grad_loss", grad_loss, logits, kScalar, true);
  check_arg_like(op, "lse", lse, logits, {logits.size(0)}, true);
  check_arg_like(op, "target_sum", target_sum, logits, {logits.size(0)}, true);
  if (!dlogits.defined() && !dtargets.defined()) return;
  k_soft_cross_entropy_bwd(logits.device(), s, dlogits, dtargets, grad_loss, logits, targets, lse, target_sum,
                           smoothing, beta_logits, beta_targets);
}

void kl_div_forward(Stream& s, const Tensor& loss, const Tensor& lse_s, const Tensor& lse_t, const Tensor& row_kl,
                    const Tensor& student, const Tensor& teacher, double temperature) {
  const char* op = "kl_div";
  check_logits(op, student, s, "student logits");
  check_arg_like(op, "teacher logits", teacher, student, student.shape(), true);
  SP_CHECK(temperature > 0, op, ": temperature ", temperature, " must be > 0");
  const Shape rows{student.size(0)};
  check_arg_like(op, "loss", loss, student, kScalar, true);
  check_arg_like(op, "lse_s", lse_s, student, rows, true);
  check_arg_like(op, "lse_t", lse_t, student, rows, true);
  check_arg_like(op, "row_kl", row_kl, student, rows, true);
  k_kl_div_fwd(student.device(), s, loss, lse_s, lse_t, row_kl, student, teacher, temperature);
}

void kl_div_backward(Stream& s, const Tensor& dstudent, const Tensor& dteacher, const Tensor& grad_loss,
                     const Tensor& student, const Tensor& teacher, const Tensor& lse_s, const Tensor& lse_t,
                     const Tensor& row_kl, double temperature, double beta_s, double beta_t) {
  const char* op = "kl_div backward";
  check_logits(op, student, s, "student logits");
  check_arg_like(op, "teacher logits", teacher, student, student.shape(), true);
  SP_CHECK(temperature > 0, op, ": temperature ", temperature, " must be > 0");
  const Shape rows{student.size(0)};
  check_arg_like(op, "grad_student", dstudent, student, student.shape(), false);
  check_arg_like(op, "grad_teacher", dteacher, student, student.shape(), false);
  check_arg_like(op, "grad_loss", grad_loss, student, kScalar, true);
  check_arg_like(op, "lse_s", lse_s, student, rows, true);
  check_arg_like(op, "lse_t", lse_t, student, rows, true);
  check_arg_like(op, "row_kl", row_kl, student, rows, true);
  if (!dstudent.defined() && !dteacher.defined()) return;
  k_kl_div_bwd(student.device(), s, dstudent, dteacher, grad_loss, student, teacher, lse_s, lse_t, row_kl, temperature,
               beta_s, beta_t);
}

void mse_forward(Stream& s, const Tensor& loss, const Tensor& a, const Tensor& b) {
  const char* op = "mse_loss";
  check_float_input(op, a, s);
  SP_CHECK(a.numel() > 0, op, ": empty input ", a.str());
  check_arg_like(op, "target", b, a, a.shape(), true);
  check_arg_like(op, "loss", loss, a, kScalar, true);
  k_mse_fwd(a.device(), s, loss, a, b);
}

void mse_backward(Stream& s, const Tensor& da, const Tensor& db, const Tensor& grad_loss, const Tensor& a,
                  const Tensor& b, double beta_a, double beta_b) {
  const char* op = "mse_loss backward";
  check_float_input(op, a, s);
  SP_CHECK(a.numel() > 0, op, ": empty input ", a.str());
  check_arg_like(op, "target", b, a, a.shape(), true);
  check_arg_like(op, "grad_input", da, a, a.shape(), false);
  check_arg_like(op, "grad_target", db, a, a.shape(), false);
  check_arg_like(op, "grad_loss", grad_loss, a, kScalar, true);
  if (!da.defined() && !db.defined()) return;
  k_mse_bwd(a.device(), s, da, db, grad_loss, a, b, beta_a, beta_b);
}

}  // namespace sp
