// Per-sample DSA on a synthetic set (see augmented_source.h).
#include "paradigms/distill/augmented_source.h"

#include "kernels/counter_rng.h"

namespace sp::distill {

namespace {
constexpr uint64_t kPurposeTrainAug = 0x4449545241ULL;  // "DITRA"
}

DsaImageSource::DsaImageSource(Stream& s, const Tensor& images, const Tensor& labels, uint64_t seed,
                               std::vector<dsa::Group> strategy)
    : inner_(s, images, labels, seed), seed_(crng::derive_key(seed, kPurposeTrainAug)), strategy_(std::move(strategy)) {}

Batch DsaImageSource::batch(Stream& s, int epoch, int64_t lo, int64_t hi) {
  Batch b = inner_.batch(s, epoch, lo, hi);
  if (strategy_.empty()) return b;
  const Tensor& x = b.x;
  // Batches start at distinct positions of one epoch, so (epoch, lo) names each batch once.
  const uint64_t counter = uint64_t(epoch) << 32 | uint64_t(lo);
  Tape t(s);
  b.x = t.value(dsa::apply(t, t.leaf(x), dsa::draw(strategy_, params_, x.size(0), x.size(2), x.size(3), seed_, counter,
                                                    false)));
  return b;
}

}  // namespace sp::distill
