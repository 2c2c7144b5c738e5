// Training augmentation and LiRA query views on top of kernels/augment.h, for images resident on any device
// (the training set is copied to the GPU once; batches are gathered, cropped, flipped and normalised there).
//  * augment_batch: random crop (pad 4, zero or reflect) + horizontal flip + per-channel normalisation. The
//    crop/flip of image `id` in `epoch` is a pure function of (seed, epoch, id), identical on CPU and CUDA
//    and independent of batch composition.
//  * query_views: the 18 LiRA queries of each image, flip in {no, yes} (outer), dy in {0, -4, +4}, dx in
//    {0, -4, +4} (inner); each is the (flipped) image zero-padded by 4 and cropped 32x32 at (4+dy, 4+dx), so
//    view 0 is the clean image (shared/golden/README.md, paper-protocol.md §1.5). A selection
//    (data/query_views.h: the clean image and its flip, or the clean image alone) is a shorter table given
//    to the same kernel, so only the chosen views are computed, in the order of the full table.
// Tested in tests/test_data_augment.cpp (hand-computed crops, each selection against slices of the 18
// views, reflect padding, normalisation, parameter distribution and determinism) and
// tests/gpu/test_data_augment_gpu.cpp (CUDA == CPU bit for bit).
#pragma once
#include <vector>

#include "data/query_views.h"
#include "kernels/augment.h"

namespace sp::data {

struct Normalization {
  std::vector<double> mean, std;  // per channel, on the [0, 1] scale
  static Normalization cifar10();  // (0.4914, 0.4822, 0.4465) / (0.2023, 0.1994, 0.2010)
  static Normalization identity(int channels);  // pixel / 255
  NormalizeParams params() const;
};

struct AugmentConfig {
  int32_t pad = 4;
  PadMode pad_mode = PadMode::zero;
  bool flip = true;
  Normalization norm = Normalization::cifar10();
  DType dtype = DType::f32;
};

constexpr int32_t kQueryPad = 4;

// The rows of the 18-view table that `views` selects, ascending (all: 0..17; flips: the clean image and its
// flip, 0 and 9; clean: 0).
std::vector<int64_t> query_view_indices(QueryViews views);
// Those query views as crop parameters, i32 [1, num_query_views(views), 3] on the CPU.
Tensor query_view_params(QueryViews views = QueryViews::all);

// Per-image random crop/flip parameters for ids i64 [N] (on the stream's device): i32 [N, 1, 3].
Tensor augment_params(Stream& s, const Tensor& ids, uint64_t seed, uint64_t epoch, const AugmentConfig& cfg);
// out [N, C, H, W] = augmented images[ids]; images u8 [B, C, H, W] and ids on the stream's device.
Tensor augment_batch(Stream& s, const Tensor& images, const Tensor& ids, uint64_t seed, uint64_t epoch,
                     const AugmentConfig& cfg = {});
// out [N, C, H, W] = normalised images[ids] without augmentation (evaluation).
Tensor normalize_batch(Stream& s, const Tensor& images, const Tensor& ids, const Normalization& norm = Normalization::cifar10(),
                       DType dtype = DType::f32);
// out [N, V, C, H, W]: the V = num_query_views(views) query views of images[ids], normalised.
Tensor query_views(Stream& s, const Tensor& images, const Tensor& ids, const Normalization& norm = Normalization::cifar10(),
                   DType dtype = DType::f32, QueryViews views = QueryViews::all);

}  // namespace sp::data
