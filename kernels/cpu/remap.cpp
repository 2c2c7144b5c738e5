// CPU integer remap (see kernels/remap.h): one loop over output pixels using remap_math.h.
#include "kernels/remap.h"

#include "kernels/dispatch.h"

namespace sp {
namespace {

void remap_cpu(Stream&, const Tensor& y, const Tensor& x, const Tensor& params, bool inverse, double beta) {
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  const int32_t* pp = params.data<int32_t>();
  SP_DISPATCH_FLOAT(x.dtype(), "remap", {
    const scalar_t* xp = x.data<scalar_t>();
    scalar_t* yp = y.data<scalar_t>();
    const scalar_t b = scalar_t(beta);
    for (int64_t nc = 0; nc < n * c; ++nc) {
      const int32_t* p = pp + (nc / c) * 3;
      for (int64_t i = 0; i < h; ++i)
        for (int64_t j = 0; j < w; ++j) {
          int64_t src = remap_source(i, j, h, w, p, inverse);
          scalar_t v = src < 0 ? scalar_t(0) : xp[nc * h * w + src];
          scalar_t* o = yp + (nc * h + i) * w + j;
          *o = b == scalar_t(0) ? v : v + b * *o;
        }
    }
  });
}

}  // namespace
SP_REGISTER_KERNEL(k_remap, CPU, remap_cpu);
}  // namespace sp
