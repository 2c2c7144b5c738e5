// Crop/flip/normalise kernels for training augmentation and LiRA query views, on uint8 images kept on the
// device. out[n, v] = normalise(view params[pn, v] of images[src[n]]) with pn = n, or 0 when params has one
// row (the same views for every image, as the 18 query views). The parameter kernel draws per-image random
// crops/flips from (key, id) with the counter-based RNG, so the GPU path needs no host work and both
// backends agree exactly. Tested in tests/test_data_augment.cpp and tests/gpu/test_data_augment_gpu.cpp.
#pragma once
#include "kernels/augment_math.h"
#include "kernels/registry.h"
#include "kernels/tensor.h"

namespace sp {

// params: i32 [N, 1, 3] (oy, ox, flip) written for ids i64 [N].
using CropParamsFn = void(Stream&, const Tensor& params, const Tensor& ids, uint64_t key, int32_t pad, bool flip);
// out: f32/f64 [N, V, C, H, W]; images: u8 [B, C, H, W]; src: i64 [N]; params: i32 [N or 1, V, 3].
using CropFlipNormalizeFn = void(Stream&, const Tensor& out, const Tensor& images, const Tensor& src,
                                 const Tensor& params, int32_t pad, PadMode mode, const NormalizeParams& norm);
extern Kernel<CropParamsFn> k_random_crop_params;
extern Kernel<CropFlipNormalizeFn> k_crop_flip_normalize;

// Validating wrappers (shapes, dtypes, devices, pad < H and W for reflect, parameter ranges and src
// indices when they are on the CPU; on the GPU an out-of-range src index yields NaN rows instead).
void random_crop_params(Stream& s, const Tensor& params, const Tensor& ids, uint64_t key, int32_t pad, bool flip);
void crop_flip_normalize(Stream& s, const Tensor& out, const Tensor& images, const Tensor& src, const Tensor& params,
                         int32_t pad, PadMode mode, const NormalizeParams& norm);

}  // namespace sp
