// CUDA augmentation kernels (see kernels/augment.h); the per-element math is kernels/augment_math.h, shared
// with the CPU twin, and tests/gpu/test_data_augment_gpu.cpp checks the two agree bit for bit.
#include "kernels/augment.h"
#include "kernels/cuda/cuda_context.h"
#include "kernels/dispatch.h"

namespace sp {
namespace {

__global__ void random_crop_params_kernel(int32_t* params, const int64_t* ids, int64_t n, uint64_t key, int32_t pad,
                                          bool flip) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    CropParams c = draw_crop_params(key, ids[i], pad, flip);
    params[3 * i] = c.oy;
    params[3 * i + 1] = c.ox;
    params[3 * i + 2] = c.flip;
  }
}

void random_crop_params_cuda(Stream& s, const Tensor& params, const Tensor& ids, uint64_t key, int32_t pad,
                             bool flip) {
  int64_t n = ids.size(0);
  random_crop_params_kernel<<<grid_1d(n), kBlock, 0, cuda_stream(s)>>>(params.data<int32_t>(), ids.data<int64_t>(),
                                                                       n, key, pad, flip);
  SP_CUDA_LAUNCH_CHECK();
}

// One thread per output element, grid-stride. Consecutive threads write consecutive x of one row, so stores
// are coalesced; the uint8 source reads of a row are contiguous too (reversed when flipped).
template <class T>
__global__ void crop_flip_normalize_kernel(T* out, const uint8_t* images, int64_t num_images, const int64_t* src,
                                           const int32_t* params, bool shared_params, int64_t n, int64_t views,
                                           int32_t c, int32_t h, int32_t w, int32_t pad, PadMode mode,
                                           NormalizeParams norm) {
  int64_t plane = int64_t(h) * w, total = n * views * c * plane;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total; e += int64_t(gridDim.x) * blockDim.x) {
    int64_t pix = e % plane;
    int64_t rest = e / plane;
    int32_t ch = int32_t(rest % c);
    int64_t row = rest / c;  // = i * views + v
    int64_t i = row / views, v = row % views;
    const int32_t* q = params + ((shared_params ? 0 : i) * views + v) * 3;
    CropParams p{q[0], q[1], q[2]};
    int64_t img = src[i];
    if (img < 0 || img >= num_images) {
      out[e] = T(NAN);  // the CPU wrapper rejects this; on the device it is made visible instead
      continue;
    }
    int32_t y = int32_t(pix / w), x = int32_t(pix % w);
    int32_t at = crop_source(y, x, h, w, p, pad, mode);
    T value = at < 0 ? T(0) : T(images[(img * c + ch) * plane + at]);
    out[e] = norm_value(value, norm, ch);
  }
}

void crop_flip_normalize_cuda(Stream& s, const Tensor& out, const Tensor& images, const Tensor& src,
                              const Tensor& params, int32_t pad, PadMode mode, const NormalizeParams& norm) {
  int64_t total = out.numel();
  SP_DISPATCH_FLOAT(out.dtype(), "crop_flip_normalize", {
    crop_flip_normalize_kernel<scalar_t><<<grid_1d(total), kBlock, 0, cuda_stream(s)>>>(
        out.data<scalar_t>(), images.data<uint8_t>(), images.size(0), src.data<int64_t>(), params.data<int32_t>(),
        params.size(0) == 1, out.size(0), out.size(1), int32_t(out.size(2)), int32_t(out.size(3)),
        int32_t(out.size(4)), pad, mode, norm);
  });
  SP_CUDA_LAUNCH_CHECK();
}

}  // namespace
SP_REGISTER_KERNEL(k_random_crop_params, CUDA, random_crop_params_cuda);
SP_REGISTER_KERNEL(k_crop_flip_normalize, CUDA, crop_flip_normalize_cuda);
}  // namespace sp
