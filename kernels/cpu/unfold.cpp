// CPU per-example unfold (see kernels/unfold.h): one pass over the output, rows split across threads.
#include "kernels/cpu/parallel.h"
#include "kernels/dispatch.h"
#include "kernels/unfold.h"

namespace sp {
namespace {
void unfold_per_example_cpu(Stream&, const Tensor& out, const Tensor& x, const Conv2dGeom& g, int64_t copies) {
  const UnfoldIndex u = make_unfold_index(g, copies);
  const int64_t rows = out.size(0) * out.size(1), cols = out.size(2);
  SP_DISPATCH_FLOAT(x.dtype(), "unfold_per_example", {
    const scalar_t* xp = x.data<scalar_t>();
    scalar_t* op = out.data<scalar_t>();
    auto row = [&](int64_t r) {
      for (int64_t i = r * cols; i < (r + 1) * cols; ++i) {
        int64_t src = u.source(i);
        op[i] = src < 0 ? scalar_t(0) : xp[src];
      }
    };
    if (rows * cols >= (int64_t(1) << 16))
      cpu::parallel_for(rows, row);
    else
      for (int64_t r = 0; r < rows; ++r) row(r);
  });
}
}  // namespace
SP_REGISTER_KERNEL(k_unfold_per_example, CPU, unfold_per_example_cpu);
}  // namespace sp
