// Augmentation front end (see augment.h).
#include "data/augment.h"

#include <map>
#include <mutex>

namespace sp::data {
namespace {
constexpr uint64_t kPurposeAugment = 0x4155474d454e5400ull;  // "AUGMENT"
}

Normalization Normalization::cifar10() { return {{0.4914, 0.4822, 0.4465}, {0.2023, 0.1994, 0.2010}}; }

Normalization Normalization::identity(int channels) {
  return {std::vector<double>(size_t(channels), 0.0), std::vector<double>(size_t(channels), 1.0)};
}

NormalizeParams Normalization::params() const {
  SP_CHECK(mean.size() == std.size() && !mean.empty() && mean.size() <= 4, "Normalization: ", mean.size(),
           " means and ", std.size(), " stds (1..4 channels)");
  NormalizeParams p;
  p.channels = int32_t(mean.size());
  for (size_t c = 0; c < mean.size(); ++c) {
    SP_CHECK(std[c] > 0, "Normalization: std[", c, "] = ", std[c], " must be positive");
    p.scale_d[c] = 1.0 / (255.0 * std[c]);
    p.bias_d[c] = -mean[c] / std[c];
    p.scale_f[c] = float(p.scale_d[c]);
    p.bias_f[c] = float(p.bias_d[c]);
  }
  return p;
}

namespace {
// The full table, (oy, ox, flip) per view.
std::vector<int32_t> all_query_views() {
  const int32_t shift[3] = {0, -4, 4};
  std::vector<int32_t> v;
  for (int32_t flip = 0; flip < 2; ++flip)
    for (int32_t dy : shift)
      for (int32_t dx : shift) v.insert(v.end(), {kQueryPad + dy, kQueryPad + dx, flip});
  return v;
}
}  // namespace

std::vector<int64_t> query_view_indices(QueryViews views) {
  // Found in the table rather than written down, so a reordered table cannot select the wrong views.
  const std::vector<int32_t> t = all_query_views();
  std::vector<int64_t> rows;
  for (int64_t v = 0; v < kNumQueryViews; ++v) {
    const int32_t* p = &t[size_t(3 * v)];
    const bool unshifted = p[0] == kQueryPad && p[1] == kQueryPad;
    if (views == QueryViews::all || (views == QueryViews::flips && unshifted) ||
        (views == QueryViews::clean && unshifted && p[2] == 0))
      rows.push_back(v);
  }
  SP_CHECK(int64_t(rows.size()) == num_query_views(views), "query_view_indices: ", rows.size(), " views for '",
           query_views_name(views), "', expected ", num_query_views(views));
  return rows;
}

Tensor query_view_params(QueryViews views) {
  const std::vector<int32_t> t = all_query_views();
  std::vector<int32_t> v;
  for (int64_t row : query_view_indices(views)) v.insert(v.end(), t.begin() + 3 * row, t.begin() + 3 * row + 3);
  return Tensor::from_vector(v, {1, int64_t(v.size() / 3), 3});
}

Tensor augment_params(Stream& s, const Tensor& ids, uint64_t seed, uint64_t epoch, const AugmentConfig& cfg) {
  Tensor p = Tensor::empty({ids.numel(), 1, 3}, DType::i32, s);
  uint64_t key = crng::derive_key(crng::derive_key(seed, kPurposeAugment), epoch);
  random_crop_params(s, p, ids, key, cfg.pad, cfg.flip);
  return p;
}

Tensor augment_batch(Stream& s, const Tensor& images, const Tensor& ids, uint64_t seed, uint64_t epoch,
                     const AugmentConfig& cfg) {
  Tensor p = augment_params(s, ids, seed, epoch, cfg);
  Tensor out = Tensor::empty({ids.numel(), 1, images.size(1), images.size(2), images.size(3)}, cfg.dtype, s);
  crop_flip_normalize(s, out, images, ids, p, cfg.pad, cfg.pad_mode, cfg.norm.params());
  return out.view({ids.numel(), images.size(1), images.size(2), images.size(3)});
}

Tensor normalize_batch(Stream& s, const Tensor& images, const Tensor& ids, const Normalization& norm, DType dtype) {
  Tensor p = Tensor::zeros({1, 1, 3}, DType::i32, s);
  Tensor out = Tensor::empty({ids.numel(), 1, images.size(1), images.size(2), images.size(3)}, dtype, s);
  crop_flip_normalize(s, out, images, ids, p, 0, PadMode::zero, norm.params());
  return out.view({ids.numel(), images.size(1), images.size(2), images.size(3)});
}

Tensor query_views(Stream& s, const Tensor& images, const Tensor& ids, const Normalization& norm, DType dtype,
                   QueryViews views) {
  SP_CHECK(images.dim() == 4, "query_views: images must be [B, C, H, W], got ", images.str());
  // The table (at most 216 bytes) is uploaded once per device and selection, so repeated calls need no
  // host-to-device copy (which would synchronise the stream). Deliberately never destroyed: device memory
  // must not be returned to the allocator during static destruction.
  static std::mutex mu;
  static auto* per_device = new std::map<std::pair<int, QueryViews>, Tensor>;
  Tensor table;
  if (s.device().is_cpu()) {
    table = query_view_params(views);
  } else {
    std::lock_guard<std::mutex> lock(mu);
    Tensor& t = (*per_device)[{s.device().index, views}];
    if (!t.defined()) t = query_view_params(views).to(s.device(), s);
    table = t;
  }
  Tensor out = Tensor::empty({ids.numel(), table.size(1), images.size(1), images.size(2), images.size(3)}, dtype, s);
  crop_flip_normalize(s, out, images, ids, table, kQueryPad, PadMode::zero, norm.params());
  return out;
}

}  // namespace sp::data
