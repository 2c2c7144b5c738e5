// Kernel object and validating wrapper of accumulate_metrics (see metrics.h).
#include "kernels/metrics.h"

namespace sp {

constinit Kernel<AccumulateMetricsFn> k_accumulate_metrics("accumulate_metrics");

void accumulate_metrics(Stream& s, const Tensor& acc, const Tensor& loss, const Tensor& logits, const Tensor& labels) {
  const char* op = "accumulate_metrics";
  SP_CHECK(acc.dtype() == DType::f64 && acc.numel() == 2 && acc.is_contiguous(), op, ": accumulator ", acc.str(),
           " must be contiguous f64 [2]");
  SP_CHECK(loss.numel() == 1 && (loss.dtype() == DType::f32 || loss.dtype() == DType::f64), op, ": loss ",
           loss.str(), " must be a floating scalar");
  SP_CHECK(logits.dim() == 2 && logits.is_contiguous() && (logits.dtype() == DType::f32 || logits.dtype() == DType::f64),
           op, ": logits ", logits.str(), " must be contiguous f32/f64 [N, C]");
  SP_CHECK(labels.dtype() == DType::i64 && labels.dim() == 1 && labels.size(0) == logits.size(0) &&
               labels.is_contiguous(),
           op, ": labels ", labels.str(), " must be contiguous i64 [", logits.size(0), "]");
  for (const Tensor* t : {&loss, &logits, &labels})
    SP_CHECK(t->device() == acc.device() && acc.device() == s.device(), op, ": ", t->str(), " and ", acc.str(),
             " must be on the stream's device ", s.device());
  k_accumulate_metrics(s.device(), s, acc, loss, logits, labels);
}

}  // namespace sp
