// Kernel objects and validating wrappers for augmentation (see augment.h).
#include "kernels/augment.h"

namespace sp {

constinit Kernel<CropParamsFn> k_random_crop_params("random_crop_params");
constinit Kernel<CropFlipNormalizeFn> k_crop_flip_normalize("crop_flip_normalize");

void random_crop_params(Stream& s, const Tensor& params, const Tensor& ids, uint64_t key, int32_t pad, bool flip) {
  SP_CHECK(ids.dtype() == DType::i64 && ids.dim() == 1 && ids.is_contiguous(),
           "random_crop_params: ids must be contiguous i64 [N], got ", ids.str());
  SP_CHECK(params.dtype() == DType::i32 && params.shape() == Shape({ids.size(0), 1, 3}) && params.is_contiguous(),
           "random_crop_params: params must be contiguous i32 [", ids.size(0), ", 1, 3], got ", params.str());
  check_same_device("random_crop_params", params, ids);
  SP_CHECK(pad >= 0 && pad <= 1024, "random_crop_params: pad ", pad, " out of range [0, 1024]");
  if (ids.numel() == 0) return;
  k_random_crop_params(ids.device(), s, params, ids, key, pad, flip);
}

void crop_flip_normalize(Stream& s, const Tensor& out, const Tensor& images, const Tensor& src, const Tensor& params,
                         int32_t pad, PadMode mode, const NormalizeParams& norm) {
  const char* op = "crop_flip_normalize";
  SP_CHECK(images.dtype() == DType::u8 && images.dim() == 4 && images.is_contiguous(), op,
           ": images must be contiguous u8 [B, C, H, W], got ", images.str());
  int64_t c = images.size(1), h = images.size(2), w = images.size(3);
  SP_CHECK(src.dtype() == DType::i64 && src.dim() == 1 && src.is_contiguous(), op,
           ": src must be contiguous i64 [N], got ", src.str());
  int64_t n = src.size(0);
  SP_CHECK(params.dtype() == DType::i32 && params.dim() == 3 && params.size(2) == 3 && params.is_contiguous() &&
               (params.size(0) == n || params.size(0) == 1),
           op, ": params must be contiguous i32 [", n, " or 1, V, 3], got ", params.str());
  int64_t v = params.size(1);
  SP_CHECK((out.dtype() == DType::f32 || out.dtype() == DType::f64) && out.shape() == Shape({n, v, c, h, w}) &&
               out.is_contiguous(),
           op, ": out must be contiguous f32/f64 [", n, ", ", v, ", ", c, ", ", h, ", ", w, "], got ", out.str());
  check_same_device(op, out, images);
  check_same_device(op, out, src);
  check_same_device(op, out, params);
  SP_CHECK(norm.channels == c && c <= 4, op, ": normalisation for ", norm.channels, " channels, images have ", c,
           " (at most 4)");
  SP_CHECK(h < (1 << 15) && w < (1 << 15) && pad >= 0 && pad <= 1024, op, ": image ", h, "x", w, " or pad ", pad,
           " out of range");
  SP_CHECK(mode == PadMode::zero || (pad < h && pad < w), op, ": reflect padding of ", pad, " needs images larger than ",
           pad, ", got ", h, "x", w);
  if (out.numel() == 0) return;
  if (params.device().is_cpu()) {
    const int32_t* p = params.data<int32_t>();
    for (int64_t i = 0; i < params.numel(); i += 3)
      SP_CHECK(p[i] >= 0 && p[i] <= 2 * pad && p[i + 1] >= 0 && p[i + 1] <= 2 * pad && (p[i + 2] == 0 || p[i + 2] == 1),
               op, ": crop parameters (", p[i], ", ", p[i + 1], ", ", p[i + 2], ") outside [0, ", 2 * pad, "]^2 x {0, 1}");
    const int64_t* sp = src.data<int64_t>();
    for (int64_t i = 0; i < n; ++i)
      SP_CHECK(sp[i] >= 0 && sp[i] < images.size(0), op, ": src[", i, "] = ", sp[i], " out of range for ",
               images.str());
  }
  k_crop_flip_normalize(out.device(), s, out, images, src, params, pad, mode, norm);
}

}  // namespace sp
