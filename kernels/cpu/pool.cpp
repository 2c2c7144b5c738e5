// CPU pooling kernels (see kernels/pool.h): loops over planes, in blocks on several threads, calling the
// shared math of pool_math.h; an NHWC plane is read with a step of C (Pool2dGeom::plane / step).
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
            int64_t o = g.plane(p, g.oh, g.ow) + (oh * g.ow + ow) * g.step();
            yp[o] = max_pool_window(xp + g.plane(p, g.h, g.w), g, oh, ow, ap + o);
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
            const int64_t o = g.plane(p, g.oh, g.ow);
            scalar_t v = max_pool_grad_at(gp + o, ap + o, g, ih, iw);
            sink_write(dp + g.plane(p, g.h, g.w) + (ih * g.w + iw) * g.step(), v, scalar_t(beta));
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
          for (int64_t ow = 0; ow < g.ow; ++ow) {
            const int64_t o = g.plane(p, g.oh, g.ow);
            yp[o + (oh * g.ow + ow) * g.step()] = max_pool_gather_at(xp + g.plane(p, g.h, g.w), ap + o, g, oh, ow);
          }
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
            yp[g.plane(p, g.oh, g.ow) + (oh * g.ow + ow) * g.step()] =
                avg_pool_window(xp + g.plane(p, g.h, g.w), g, oh, ow);
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
      const int64_t st = g.step();
      for (int64_t p = p0; p < p1; ++p) {
        const scalar_t* gplane = gp + g.plane(p, g.oh, g.ow);
        for (int64_t ih = 0; ih < g.h; ++ih) {
          scalar_t* drow = dp + g.plane(p, g.h, g.w) + ih * g.w * st;
          if (!tiled) {
            for (int64_t iw = 0; iw < g.w; ++iw)
              sink_write(drow + iw * st, avg_pool_grad_at(gplane, g, ih, iw), scalar_t(beta));
            continue;
          }
          const int64_t oh = ih / g.kh;
          for (int64_t iw = 0, ow = 0, k = 0; iw < g.w; ++iw) {
            const scalar_t v = oh < g.oh && ow < g.ow ? gplane[(oh * g.ow + ow) * st] / area : scalar_t(0);
            sink_write(drow + iw * st, v, scalar_t(beta));
            if (++k == g.kw) k = 0, ++ow;
          }
        }
      }
    });
  });
}

// [N, C, H, W] or [N, H, W, C] -> [N, C]. Channels last walks each image's rows in memory order, every
// channel summing its values in the same (row-major) order as NCHW's plane loop.
void gap_fwd_cpu(Stream&, const Tensor& y, const Tensor& x, Layout layout) {
  const bool last = layout == Layout::nhwc;
  const int64_t n = x.size(0), c = x.size(last ? 3 : 1), hw = x.numel() / std::max<int64_t>(1, n * c);
  SP_DISPATCH_FLOAT(x.dtype(), "global_avg_pool", {
    const scalar_t* xp = x.data<scalar_t>();
    scalar_t* yp = y.data<scalar_t>();
    if (last) {
      for (int64_t img = 0; img < n; ++img) {
        scalar_t* out = yp + img * c;
        std::fill(out, out + c, scalar_t(0));
        for (int64_t i = 0; i < hw; ++i) {
          const scalar_t* row = xp + (img * hw + i) * c;
          for (int64_t ch = 0; ch < c; ++ch) out[ch] += row[ch];
        }
        for (int64_t ch = 0; ch < c; ++ch) out[ch] /= scalar_t(hw);
      }
    } else {
      for (int64_t p = 0; p < n * c; ++p) {
        scalar_t sum = 0;
        for (int64_t i = 0; i < hw; ++i) sum += xp[p * hw + i];
        yp[p] = sum / scalar_t(hw);
      }
    }
  });
}

void gap_bwd_cpu(Stream&, const Tensor& dx, const Tensor& gy, double beta, Layout layout) {
  const bool last = layout == Layout::nhwc;
  const int64_t n = dx.size(0), c = dx.size(last ? 3 : 1), hw = dx.numel() / std::max<int64_t>(1, n * c);
  SP_DISPATCH_FLOAT(gy.dtype(), "global_avg_pool backward", {
    const scalar_t* gp = gy.data<scalar_t>();
    scalar_t* dp = dx.data<scalar_t>();
    for (int64_t k = 0; k < dx.numel(); ++k) {
      // Element k's plane: (image, channel) = (k / (hw c), k % c) channels-last, k / hw otherwise.
      const int64_t p = last ? k / (hw * c) * c + k % c : k / hw;
      sink_write(dp + k, gp[p] / scalar_t(hw), scalar_t(beta));
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
