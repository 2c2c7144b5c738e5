// The real images a distillation matches against: a private set D_k resident on the device, indexed by class,
// sampled as normalised f32 batches of one class. A batch is a uniformly random subset (the prefix of a
// seeded Fisher-Yates shuffle, as upstream's randperm(...)[:n]) drawn from (key, id), so each matching step's
// real batch is reproducible and independent of the others. Tested in tests/test_distill.cpp.
#pragma once
#include <cstdint>
#include <vector>

#include "data/augment.h"
#include "paradigms/engine/device_data.h"

namespace sp::distill {

// min(k, |v|) distinct entries of v in random order: the prefix of a Fisher-Yates shuffle drawn from (key, id).
std::vector<int64_t> random_prefix(std::vector<int64_t> v, int64_t k, uint64_t key, uint64_t id);

class ClassPool {
 public:
  // d: images (u8) and training labels on s's device; classes: the label count.
  ClassPool(const DeviceData& d, int64_t classes, const data::Normalization& norm);
  int64_t classes() const { return int64_t(by_class_.size()); }
  // Positions (in d) of the samples of class c, ascending.
  const std::vector<int64_t>& positions(int64_t c) const { return by_class_[size_t(c)]; }
  int64_t smallest_class() const;
  // min(n, class size) distinct random positions of class c, in random order, from (key, id).
  std::vector<int64_t> sample_positions(int64_t c, int64_t n, uint64_t key, uint64_t id) const;
  // The images at `positions`, normalised: f32 [len, C, H, W] on s's device.
  Tensor images(Stream& s, const std::vector<int64_t>& positions) const;
  Tensor sample(Stream& s, int64_t c, int64_t n, uint64_t key, uint64_t id) const {
    return images(s, sample_positions(c, n, key, id));
  }

 private:
  const DeviceData& d_;
  data::Normalization norm_;
  std::vector<std::vector<int64_t>> by_class_;
};

}  // namespace sp::distill
