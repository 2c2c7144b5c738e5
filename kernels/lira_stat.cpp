// Kernel object and validating wrappers for the fused LiRA statistic (see lira_stat.h).
#include "kernels/lira_stat.h"

namespace sp {

constinit Kernel<LiraStatFn> k_lira_stat("lira_stat");

void lira_stat(Stream& s, const Tensor& phi, const Tensor& logits, const Tensor& labels, lira::Statistic st) {
  SP_CHECK(phi.defined() && logits.defined() && labels.defined(), "lira_stat: undefined tensor");
  SP_CHECK(logits.dim() == 3 && logits.size(2) >= 2 &&
               (logits.dtype() == DType::f32 || logits.dtype() == DType::f64),
           "lira_stat: logits ", logits.str(), " must be f32 or f64 [N, A, C] with C >= 2");
  SP_CHECK(labels.dtype() == DType::i64 && labels.dim() == 1 && labels.size(0) == logits.size(0), "lira_stat: labels ",
           labels.str(), " must be i64 [N] for logits ", logits.str());
  SP_CHECK(phi.dtype() == DType::f64 && phi.dim() == 2 && phi.size(0) == logits.size(0) &&
               phi.size(1) == logits.size(1),
           "lira_stat: output ", phi.str(), " must be f64 [N, A] for logits ", logits.str());
  SP_CHECK(phi.is_contiguous() && logits.is_contiguous() && labels.is_contiguous(),
           "lira_stat: needs contiguous tensors, got ", phi.str(), ", ", logits.str(), ", ", labels.str());
  check_same_device("lira_stat", phi, logits);
  check_same_device("lira_stat", logits, labels);
  SP_CHECK(logits.device() == s.device(), "lira_stat: tensors on ", logits.device(), ", stream on ", s.device());
  if (phi.numel() == 0) return;
  k_lira_stat(logits.device(), s, phi, logits, labels, st);
}

Tensor lira_stat(Stream& s, const Tensor& logits, const Tensor& labels, lira::Statistic st) {
  SP_CHECK(logits.defined() && logits.dim() == 3, "lira_stat: logits ",
           logits.defined() ? logits.str() : std::string("(undefined)"), " must be [N, A, C]");
  Tensor phi = Tensor::empty({logits.size(0), logits.size(1)}, DType::f64, s);
  lira_stat(s, phi, logits.contiguous(s), labels.contiguous(s), st);
  return phi;
}

}  // namespace sp
