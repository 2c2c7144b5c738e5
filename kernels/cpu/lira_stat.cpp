// CPU fused LiRA statistic (see kernels/lira_stat.h): the shared row formula over every (sample, view) row,
// split across threads when the batch is large enough to pay for them.
#include <algorithm>

#include "kernels/cpu/parallel.h"
#include "kernels/dispatch.h"
#include "kernels/lira_stat.h"

namespace sp {
namespace {
void lira_stat_cpu(Stream&, const Tensor& phi, const Tensor& logits, const Tensor& labels, lira::Statistic st) {
  const int64_t N = logits.size(0), A = logits.size(1), C = logits.size(2), rows = N * A;
  double* out = phi.data<double>();
  const int64_t* y = labels.data<int64_t>();
  SP_DISPATCH_FLOAT(logits.dtype(), "lira_stat", {
    const scalar_t* z = logits.data<scalar_t>();
    auto run = [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) out[r] = lira::lira_statistic(z + r * C, C, y[r / A], st);
    };
    constexpr int64_t kChunk = 1 << 14;  // rows per task: a thread start costs about as much as this work
    if (rows * C <= kChunk * 16) {
      run(0, rows);
    } else {
      const int64_t chunks = (rows + kChunk - 1) / kChunk;
      cpu::parallel_for(chunks, [&](int64_t c) { run(c * kChunk, std::min(rows, (c + 1) * kChunk)); });
    }
  });
}
}  // namespace
SP_REGISTER_KERNEL(k_lira_stat, CPU, lira_stat_cpu);
}  // namespace sp
