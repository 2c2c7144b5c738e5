// Real images by class (see class_pool.h).
#include "paradigms/distill/class_pool.h"

#include <algorithm>

#include "kernels/counter_rng.h"
#include "kernels/error.h"

namespace sp::distill {

ClassPool::ClassPool(const DeviceData& d, int64_t classes, const data::Normalization& norm)
    : d_(d), norm_(norm), by_class_(size_t(classes)) {
  for (int64_t i = 0; i < int64_t(d.host_labels.size()); ++i) {
    const int64_t y = d.host_labels[size_t(i)];
    SP_CHECK(y >= 0 && y < classes, "class pool: label ", y, " of sample ", i, " is outside [0, ", classes, ")");
    by_class_[size_t(y)].push_back(i);
  }
}

int64_t ClassPool::smallest_class() const {
  int64_t m = by_class_.empty() ? 0 : int64_t(by_class_[0].size());
  for (const auto& v : by_class_) m = std::min(m, int64_t(v.size()));
  return m;
}

std::vector<int64_t> random_prefix(std::vector<int64_t> v, int64_t k, uint64_t key, uint64_t id) {
  const int64_t take = std::min<int64_t>(k, int64_t(v.size()));
  crng::Stream32 r(key, id);
  for (int64_t i = 0; i < take; ++i) std::swap(v[size_t(i)], v[size_t(i + int64_t(r.below64(uint64_t(int64_t(v.size()) - i))))]);
  v.resize(size_t(take));
  return v;
}

std::vector<int64_t> ClassPool::sample_positions(int64_t c, int64_t n, uint64_t key, uint64_t id) const {
  return random_prefix(by_class_[size_t(c)], n, key, id);
}

Tensor ClassPool::images(Stream& s, const std::vector<int64_t>& positions) const {
  SP_CHECK(!positions.empty(), "class pool: an empty batch was requested");
  Tensor ids = Tensor::from_vector(positions, {int64_t(positions.size())}).to(d_.images.device(), s);
  return data::normalize_batch(s, d_.images, ids, norm_, DType::f32);
}

}  // namespace sp::distill
