// CPU dropout mask (see kernels/dropout.h); the per-element math is kernels/dropout_math.h.
#include "kernels/dispatch.h"
#include "kernels/dropout.h"
#include "kernels/dropout_math.h"

namespace sp {
namespace {

void dropout_mask_cpu(Stream&, const Tensor& mask, double p, uint64_t key, uint64_t stream_id) {
  const int64_t n = mask.numel();
  SP_DISPATCH_FLOAT(mask.dtype(), "dropout", {
    scalar_t* m = mask.data<scalar_t>();
    const scalar_t keep = scalar_t(1.0 / (1.0 - p));
    for (int64_t b = 0; 4 * b < n; ++b) {
      const crng::U32x4 w = drop::mask_words(key, stream_id, uint64_t(b));
      for (int64_t k = 0; k < 4 && 4 * b + k < n; ++k) m[4 * b + k] = drop::mask_value(w.v[k], p, keep);
    }
  });
}

}  // namespace
SP_REGISTER_KERNEL(k_dropout_mask, CPU, dropout_mask_cpu);
}  // namespace sp
