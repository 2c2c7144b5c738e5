// CPU unfold (see kernels/unfold.h): a loop nest over (sample, tap row) tasks split across threads, each
// walking its output positions in order, so no index is divided per element. The CUDA kernel's per-element
// index math (unfold_math.h) is checked against this in the GPU test.
#include "kernels/cpu/parallel.h"
#include "kernels/dispatch.h"
#include "kernels/unfold.h"

namespace sp {
namespace {
void unfold_cpu(Stream&, const Tensor& out, const Tensor& x, const Conv2dGeom& g) {
  const int64_t taps = g.kh * g.kw, rows = g.c * taps, tasks = g.n * rows, cols = g.oh * g.ow;
  SP_DISPATCH_FLOAT(x.dtype(), "unfold", {
    const scalar_t* xp = x.data<scalar_t>();
    scalar_t* op = out.data<scalar_t>();
    auto task = [&](int64_t r) {  // r = n * rows + (c * kh + i) * kw + j
      const int64_t n = r / rows, row = r % rows, c = row / taps, i = (row % taps) / g.kw, j = row % g.kw;
      const scalar_t* plane = xp + (n * g.c + c) * g.h * g.w;
      scalar_t* o = op + r * cols;
      for (int64_t oy = 0; oy < g.oh; ++oy) {
        const int64_t iy = oy * g.sh - g.ph + i * g.dh;
        for (int64_t ox = 0; ox < g.ow; ++ox, ++o) {
          const int64_t ix = ox * g.sw - g.pw + j * g.dw;
          *o = (iy >= 0 && iy < g.h && ix >= 0 && ix < g.w) ? plane[iy * g.w + ix] : scalar_t(0);
        }
      }
    };
    if (tasks * cols >= (int64_t(1) << 16))
      cpu::parallel_for(tasks, task);
    else
      for (int64_t r = 0; r < tasks; ++r) task(r);
  });
}
}  // namespace
SP_REGISTER_KERNEL(k_unfold, CPU, unfold_cpu);
}  // namespace sp
