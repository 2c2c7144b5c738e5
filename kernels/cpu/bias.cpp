// CPU per-channel bias add and its gradient (see kernels/bias.h).
#include "kernels/bias.h"
#include "kernels/dispatch.h"

namespace sp {
namespace {

void bias_fwd_cpu(Stream&, const Tensor& y, const Tensor& b, int64_t outer, int64_t channels, int64_t inner) {
  SP_DISPATCH_FLOAT(y.dtype(), "channel_bias_fwd", {
    scalar_t* yp = y.data<scalar_t>();
    const scalar_t* bp = b.data<scalar_t>();
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t c = 0; c < channels; ++c) {
        scalar_t* row = yp + (o * channels + c) * inner;
        for (int64_t i = 0; i < inner; ++i) row[i] += bp[c];
      }
  });
}

void bias_bwd_cpu(Stream&, const Tensor& db, const Tensor& gy, int64_t outer, int64_t channels, int64_t inner,
                  double beta) {
  SP_DISPATCH_FLOAT(gy.dtype(), "channel_bias_bwd", {
    const scalar_t* gp = gy.data<scalar_t>();
    scalar_t* dp = db.data<scalar_t>();
    std::vector<double> acc(size_t(channels), 0.0);
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t c = 0; c < channels; ++c) {
        const scalar_t* row = gp + (o * channels + c) * inner;
        double sum = 0;
        for (int64_t i = 0; i < inner; ++i) sum += double(row[i]);
        acc[size_t(c)] += sum;
      }
    for (int64_t c = 0; c < channels; ++c)
      dp[c] = beta == 0.0 ? scalar_t(acc[size_t(c)]) : scalar_t(acc[size_t(c)] + beta * double(dp[c]));
  });
}

}  // namespace
SP_REGISTER_KERNEL(k_channel_bias_fwd, CPU, bias_fwd_cpu);
SP_REGISTER_KERNEL(k_channel_bias_bwd, CPU, bias_bwd_cpu);
}  // namespace sp
