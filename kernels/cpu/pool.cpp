// CPU pooling kernels (see kernels/pool.h): loops over planes, in blocks on several threads, calling the
// shared math of pool_math.h.
#include <algorithm>

#include "kernels/cpu/parallel.h"
#include "kernels/dispatch.h"
#include "kernels/pool.h"

namespace sp {
namespace {

// Planes are independent: blocks of at least ~32k values run on several threads (each plane as on one).
int64_t planes_per_block(const Pool2dGeom& g) {
  return std::max<int64_t>(1, (int64_t(1) << 15) / std::max<int64_t>(1, g.h * g.w));
}

void max_fwd_cpu(Stream&, const Tensor& y, const Tensor& arg, const Tensor& x, const Pool2dGeom& g) {
  SP_DISPATCH_FLOAT(x.dtype(), "max_pool2d", {
    const scalar_t* xp = x.data<scalar_t>();
    scalar_t* yp = y.data<scalar_t>();
    int32_t* ap = arg.data<int32_t>();
    cpu::parallel_ranges(g.n * g.c, planes_per_block(g), [&](int64_t p0, int64_t p1) {
      for (int64_t p = p0; p < p1; ++p)
        for (int64_t oh = 0; oh < g.oh; ++oh)
          for (int64_t ow = 0; ow < g.ow; ++ow) {
            int64_t o = (p * g.oh + oh) * g.ow + ow;
            yp[o] = max_pool_window(xp + p * g.h * g.w, g, oh, ow, ap + o);
          }
    });
  });
}

void max_bwd_cpu(Stream&, const Tensor& dx, const Tensor& gy, const Tensor& arg, const Pool2dGeom& g,
                 double beta) {
  SP_DISPATCH_FLOAT(gy.dtype(), "max_pool2d backward", {
    const scalar_t* gp = gy.data<scalar_t>();
    const int32_t* ap = arg.data<int32_t>();
    scalar_t* dp = dx.data<scalar_t>();
    cpu::parallel_ranges(g.n * g.c, planes_per_block(g), [&](int64_t p0, int64_t p1) {
      for (int64_t p = p0; p < p1; ++p)
        for (int64_t ih = 0; ih < g.h; ++ih)
          for (int64_t iw = 0; iw < g.w; ++iw) {
            scalar_t v = max_pool_grad_at(gp + p * g.oh * g.ow, ap + p * g.oh * g.ow, g, ih, iw);
            sink_write(dp + (p * g.h + ih) * g.w + iw, v, scalar_t(beta));
          }
    });
  });
}

void max_gather_cpu(Stream&, const Tensor& y, const Tensor& x, const Tensor& arg, const Pool2dGeom& g) {
  SP_DISPATCH_FLOAT(x.dtype(), "max_pool2d_gather", {
    const scalar_t* xp = x.data<scalar_t>();
    const int32_t* ap = arg.data<int32_t>();
    scalar_t* yp = y.data<scalar_t>();
    cpu::parallel_ranges(g.n * g.c, planes_per_block(g), [&](int64_t p0, int64_t p1) {
      for (int64_t p = p0; p < p1; ++p)
        for (int64_t oh = 0; oh < g.oh; ++oh)
          for (int64_t ow = 0; ow < g.ow; ++ow)
            yp[(p * g.oh + oh) * g.ow + ow] = max_pool_gather_at(xp + p * g.h * g.w, ap + p * g.oh * g.ow, g, oh, ow);
    });
  });
}

void avg_fwd_cpu(Stream&, const Tensor& y, const Tensor& x, const Pool2dGeom& g) {
  SP_DISPATCH_FLOAT(x.dtype(), "avg_pool2d", {
    const scalar_t* xp = x.data<scalar_t>();
    scalar_t* yp = y.data<scalar_t>();
    cpu::parallel_ranges(g.n * g.c, planes_per_block(g), [&](int64_t p0, int64_t p1) {
      for (int64_t p = p0; p < p1; ++p)
        for (int64_t oh = 0; oh < g.oh; ++oh)
          for (int64_t ow = 0; ow < g.ow; ++ow)
            yp[(p * g.oh + oh) * g.ow + ow] = avg_pool_window(xp + p * g.h * g.w, g, oh, ow);
    });
  });
}

void avg_bwd_cpu(Stream&, const Tensor& dx, const Tensor& gy, const Pool2dGeom& g, double beta) {
  SP_DISPATCH_FLOAT(gy.dtype(), "avg_pool2d backward", {
    const scalar_t* gp = gy.data<scalar_t>();
    scalar_t* dp = dx.data<scalar_t>();
    // Non-overlapping windows without padding (every average pool of the zoo): input pixel (ih, iw) lies in
    // window (ih / kh, iw / kw) alone, or in none past the last window. The value equals avg_pool_grad_at's
    // (its one-term sum is exact), without locating the covering windows per pixel.
    const bool tiled = g.kh == g.sh && g.kw == g.sw && g.ph == 0 && g.pw == 0;
    const scalar_t area = scalar_t(g.kh * g.kw);
    cpu::parallel_ranges(g.n * g.c, planes_per_block(g), [&](int64_t p0, int64_t p1) {
      for (int64_t p = p0; p < p1; ++p) {
        const scalar_t* gplane = gp + p * g.oh * g.ow;
        for (int64_t ih = 0; ih < g.h; ++ih) {
          scalar_t* drow = dp + (p * g.h + ih) * g.w;
          if (!tiled) {
            for (int64_t iw = 0; iw < g.w; ++iw)
              sink_write(drow + iw, avg_pool_grad_at(gplane, g, ih, iw), scalar_t(beta));
            continue;
          }
          const int64_t oh = ih / g.kh;
          for (int64_t iw = 0, ow = 0, k = 0; iw < g.w; ++iw) {
            const scalar_t v = oh < g.oh && ow < g.ow ? gplane[oh * g.ow + ow] / area : scalar_t(0);
            sink_write(drow + iw, v, scalar_t(beta));
            if (++k == g.kw) k = 0, ++ow;
          }
        }
      }
    });
  });
}

void gap_fwd_cpu(Stream&, const Tensor& y, const Tensor& x) {
  int64_t planes = x.size(0) * x.size(1), hw = x.size(2) * x.size(3);
  SP_DISPATCH_FLOAT(x.dtype(), "global_avg_pool", {
    const scalar_t* xp = x.data<scalar_t>();
    scalar_t* yp = y.data<scalar_t>();
    for (int64_t p = 0; p < planes; ++p) {
      scalar_t sum = 0;
      for (int64_t i = 0; i < hw; ++i) sum += xp[p * hw + i];
      yp[p] = sum / scalar_t(hw);
    }
  });
}

void gap_bwd_cpu(Stream&, const Tensor& dx, const Tensor& gy, double beta) {
  int64_t planes = dx.size(0) * dx.size(1), hw = dx.size(2) * dx.size(3);
  SP_DISPATCH_FLOAT(gy.dtype(), "global_avg_pool backward", {
    const scalar_t* gp = gy.data<scalar_t>();
    scalar_t* dp = dx.data<scalar_t>();
    for (int64_t p = 0; p < planes; ++p) {
      scalar_t v = gp[p] / scalar_t(hw);
      for (int64_t i = 0; i < hw; ++i) sink_write(dp + p * hw + i, v, scalar_t(beta));
    }
  });
}

}  // namespace
SP_REGISTER_KERNEL(k_max_pool2d_fwd, CPU, max_fwd_cpu);
SP_REGISTER_KERNEL(k_max_pool2d_bwd, CPU, max_bwd_cpu);
SP_REGISTER_KERNEL(k_max_pool2d_gather, CPU, max_gather_cpu);
SP_REGISTER_KERNEL(k_avg_pool2d_fwd, CPU, avg_fwd_cpu);
SP_REGISTER_KERNEL(k_avg_pool2d_bwd, CPU, avg_bwd_cpu);
SP_REGISTER_KERNEL(k_global_avg_pool_fwd, CPU, gap_fwd_cpu);
SP_REGISTER_KERNEL(k_global_avg_pool_bwd, CPU, gap_bwd_cpu);
}  // namespace sp
