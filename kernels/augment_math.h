// Per-element arithmetic of the augmentation kernels, shared by kernels/cpu/augment.cpp and
// kernels/cuda/augment.cu so both backends produce bit-identical outputs: per-image crop/flip parameters
// from the counter-based RNG, padded-index mapping (zero or reflect), and normalisation as one fused
// multiply-add (no contraction ambiguity between compilers). Tested in tests/test_data_augment.cpp and,
// CPU against CUDA, in tests/gpu/test_data_augment_gpu.cpp.
#pragma once
#include <cmath>
#include <cstdint>

#include "kernels/counter_rng.h"
#include "kernels/hd.h"

namespace sp {

enum class PadMode : int32_t { zero = 0, reflect = 1 };

// A view of one image: the (optionally horizontally flipped) image padded by `pad` and cropped at (oy, ox);
// oy = ox = pad is the unshifted image.
struct CropParams {
  int32_t oy, ox, flip;
};

// Channel-wise out = fma(pixel, scale[c], bias[c]), i.e. (pixel / 255 - mean) / std. At most 4 channels.
struct NormalizeParams {
  int32_t channels = 0;
  float scale_f[4] = {}, bias_f[4] = {};
  double scale_d[4] = {}, bias_d[4] = {};
};

SP_HD float norm_value(float v, const NormalizeParams& n, int c) { return fmaf(v, n.scale_f[c], n.bias_f[c]); }
SP_HD double norm_value(double v, const NormalizeParams& n, int c) { return fma(v, n.scale_d[c], n.bias_d[c]); }

// Uniform oy, ox in [0, 2 pad] and a fair coin for the flip, from the stream of image `id` under `key`
// (the wrapper folds the seed and epoch into key).
SP_HD CropParams draw_crop_params(uint64_t key, int64_t id, int32_t pad, bool allow_flip) {
  crng::Stream32 s(key, uint64_t(id));
  CropParams p;
  p.oy = int32_t(s.below(uint32_t(2 * pad + 1)));
  p.ox = int32_t(s.below(uint32_t(2 * pad + 1)));
  uint32_t coin = s.next_u32() >> 31;
  p.flip = allow_flip ? int32_t(coin) : 0;
  return p;
}

// numpy/PyTorch 'reflect' (edge not repeated): -1 -> 1, n -> n - 2. Valid for |overhang| < n.
SP_HD int32_t reflect_index(int32_t i, int32_t n) {
  if (i < 0) i = -i;
  if (i >= n) i = 2 * (n - 1) - i;
  return i;
}

// Source offset (y * w + x) in the unflipped image for output pixel (y, x), or -1 for zero padding.
SP_HD int32_t crop_source(int32_t y, int32_t x, int32_t h, int32_t w, CropParams p, int32_t pad, PadMode mode) {
  int32_t sy = y + p.oy - pad, sx = x + p.ox - pad;  // coordinates in the (flipped) image
  if (sy < 0 || sy >= h || sx < 0 || sx >= w) {
    if (mode == PadMode::zero) return -1;
    sy = reflect_index(sy, h);
    sx = reflect_index(sx, w);
  }
  if (p.flip) sx = w - 1 - sx;
  return sy * w + sx;
}

}  // namespace sp
