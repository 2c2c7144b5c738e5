// CPU augmentation kernels (see kernels/augment.h); the per-element math is kernels/augment_math.h.
#include "kernels/augment.h"
#include "kernels/dispatch.h"

namespace sp {
namespace {

void random_crop_params_cpu(Stream&, const Tensor& params, const Tensor& ids, uint64_t key, int32_t pad, bool flip) {
  int32_t* p = params.data<int32_t>();
  const int64_t* id = ids.data<int64_t>();
  for (int64_t i = 0; i < ids.size(0); ++i) {
    CropParams c = draw_crop_params(key, id[i], pad, flip);
    p[3 * i] = c.oy, p[3 * i + 1] = c.ox, p[3 * i + 2] = c.flip;
  }
}

void crop_flip_normalize_cpu(Stream&, const Tensor& out, const Tensor& images, const Tensor& src, const Tensor& params,
                             int32_t pad, PadMode mode, const NormalizeParams& norm) {
  int64_t n = out.size(0), views = out.size(1), c = out.size(2);
  int32_t h = int32_t(out.size(3)), w = int32_t(out.size(4));
  bool shared = params.size(0) == 1;
  const uint8_t* img = images.data<uint8_t>();
  const int64_t* sp = src.data<int64_t>();
  const int32_t* pp = params.data<int32_t>();
  SP_DISPATCH_FLOAT(out.dtype(), "crop_flip_normalize", {
    scalar_t* o = out.data<scalar_t>();
    for (int64_t i = 0; i < n; ++i)
      for (int64_t v = 0; v < views; ++v) {
        const int32_t* q = pp + ((shared ? 0 : i) * views + v) * 3;
        CropParams p{q[0], q[1], q[2]};
        for (int64_t ch = 0; ch < c; ++ch) {
          const uint8_t* plane = img + (sp[i] * c + ch) * h * w;
          scalar_t* dst = o + ((i * views + v) * c + ch) * h * w;
          for (int32_t y = 0; y < h; ++y)
            for (int32_t x = 0; x < w; ++x) {
              int32_t at = crop_source(y, x, h, w, p, pad, mode);
              dst[y * w + x] = norm_value(scalar_t(at < 0 ? 0 : plane[at]), norm, int(ch));
            }
        }
      }
  });
}

}  // namespace
SP_REGISTER_KERNEL(k_random_crop_params, CPU, random_crop_params_cpu);
SP_REGISTER_KERNEL(k_crop_flip_normalize, CPU, crop_flip_normalize_cpu);
}  // namespace sp
