// CPU DP-SGD kernels (see kernels/dp_sgd.h); the per-element math is kernels/dp_sgd_math.h.
#include "kernels/cpu/parallel.h"
#include "kernels/dispatch.h"
#include "kernels/dp_sgd.h"
#include "kernels/dp_sgd_math.h"

namespace sp {
namespace {
void row_sq_norm_cpu(Stream&, const Tensor& out, const Tensor& g, double beta) {
  const int64_t rows = g.size(0), n = g.size(1);
  SP_DISPATCH_FLOAT(g.dtype(), "row_sq_norm", {
    const scalar_t* gp = g.data<scalar_t>();
    scalar_t* op = out.data<scalar_t>();
    auto row = [&](int64_t r) {
      double acc = 0;
      for (const scalar_t* p = gp + r * n; p < gp + (r + 1) * n; ++p) acc += double(*p) * double(*p);
      op[r] = scalar_t(beta == 0.0 ? acc : acc + beta * double(op[r]));
    };
    if (rows > 1 && rows * n >= (int64_t(1) << 16))
      cpu::parallel_for(rows, row);
    else
      for (int64_t r = 0; r < rows; ++r) row(r);
  });
}

void clip_factors_cpu(Stream&, const Tensor& factors, const Tensor& sq_norms, double clip_norm) {
  SP_DISPATCH_FLOAT(sq_norms.dtype(), "clip_factors", {
    const scalar_t* q = sq_norms.data<scalar_t>();
    scalar_t* f = factors.data<scalar_t>();
    for (int64_t b = 0; b < sq_norms.numel(); ++b) f[b] = scalar_t(dp::clip_factor(double(q[b]), clip_norm, dp::clip_margin(scalar_t())));
  });
}

void gaussian_noise_cpu(Stream&, const Tensor& y, double stddev, uint64_t key, uint64_t stream_id) {
  const int64_t n = y.numel();
  SP_DISPATCH_FLOAT(y.dtype(), "gaussian_noise", {
    scalar_t* yp = y.data<scalar_t>();
    for (int64_t p = 0; 2 * p < n; ++p) {
      double z0, z1;
      dp::gaussian_pair(key, stream_id, uint64_t(p), z0, z1);
      yp[2 * p] += scalar_t(stddev * z0);
      if (2 * p + 1 < n) yp[2 * p + 1] += scalar_t(stddev * z1);
    }
  });
}
}  // namespace
SP_REGISTER_KERNEL(k_row_sq_norm, CPU, row_sq_norm_cpu);
SP_REGISTER_KERNEL(k_clip_factors, CPU, clip_factors_cpu);
SP_REGISTER_KERNEL(k_gaussian_noise, CPU, gaussian_noise_cpu);
}  // namespace sp
