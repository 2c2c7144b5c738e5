// The audited model's training source on a synthetic set: the set's images (ImageSetSource order by
// (seed, epoch)), each batch augmented with per-sample DSA draws (one group per batch, every sample its own
// parameters: upstream's evaluate_synset with DSA) from (seed, epoch, batch), or passed through unchanged
// for an empty strategy. Tested in tests/test_distill.cpp (reproducible, per-sample, label-preserving).
#pragma once
#include <vector>

#include "nn/dsa.h"
#include "paradigms/engine/training_source.h"

namespace sp::distill {

class DsaImageSource final : public TrainingSource {
 public:
  // images, labels: as ImageSetSource; strategy empty: no augmentation.
  DsaImageSource(Stream& s, const Tensor& images, const Tensor& labels, uint64_t seed, std::vector<dsa::Group> strategy);
  int64_t size() const override { return inner_.size(); }
  void begin_epoch(Stream& s, int epoch) override { inner_.begin_epoch(s, epoch); }
  Batch batch(Stream& s, int epoch, int64_t lo, int64_t hi) override;

 private:
  ImageSetSource inner_;
  uint64_t seed_;
  std::vector<dsa::Group> strategy_;
  dsa::DsaParams params_;
};

}  // namespace sp::distill
