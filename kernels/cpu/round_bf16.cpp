// CPU round_bf16 (see kernels/round_bf16.h); the per-element math is kernels/round_bf16_math.h.
#include "kernels/cpu/parallel.h"
#include "kernels/dispatch.h"
#include "kernels/round_bf16.h"
#include "kernels/round_bf16_math.h"

namespace sp {
namespace {
void round_bf16_cpu(Stream&, const Tensor& y, const Tensor& x, double beta) {
  SP_DISPATCH_FLOAT(x.dtype(), "round_bf16", {
    scalar_t* yp = y.data<scalar_t>();
    const scalar_t* xp = x.data<scalar_t>();
    const scalar_t b = scalar_t(beta);
    const int64_t n = x.numel(), block = int64_t(1) << 15;
    auto run = [&](int64_t k) {
      const int64_t end = std::min(n, (k + 1) * block);
      if (beta == 0.0)
        for (int64_t i = k * block; i < end; ++i) yp[i] = prec::round_bf16(xp[i]);
      else
        for (int64_t i = k * block; i < end; ++i) yp[i] = prec::round_bf16(xp[i]) + b * yp[i];
    };
    cpu::parallel_for((n + block - 1) / block, run);
  });
}
}  // namespace
SP_REGISTER_KERNEL(k_round_bf16, CPU, round_bf16_cpu);
}  // namespace sp
