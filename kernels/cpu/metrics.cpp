// CPU accumulate_metrics (see kernels/metrics.h).
#include "kernels/dispatch.h"
#include "kernels/metrics.h"
#include "kernels/metrics_math.h"

namespace sp {
namespace {
void accumulate_metrics_cpu(Stream&, const Tensor& acc, const Tensor& loss, const Tensor& logits,
                            const Tensor& labels) {
  int64_t n = logits.size(0), c = logits.size(1);
  double* a = acc.data<double>();
  const int64_t* y = labels.data<int64_t>();
  SP_DISPATCH_FLOAT(loss.dtype(), "accumulate_metrics", a[0] += double(*loss.data<scalar_t>()) * double(n));
  int64_t correct = 0;
  SP_DISPATCH_FLOAT(logits.dtype(), "accumulate_metrics", {
    const scalar_t* z = logits.data<scalar_t>();
    for (int64_t i = 0; i < n; ++i) correct += row_argmax(z + i * c, c) == y[i];
  });
  a[1] += double(correct);
}
}  // namespace
SP_REGISTER_KERNEL(k_accumulate_metrics, CPU, accumulate_metrics_cpu);
}  // namespace sp
