// Where a Trainer's batches come from (paradigms/engine/train_loop.h), so a paradigm can train the audited
// model on something other than the dataset:
//   DatasetSource   uint8 images on the device (a DeviceData), augmented or normalised per batch, in the
//                   epoch order of (seed, epoch); the baseline's source, byte for byte as before;
//   ImageSetSource  an in-memory f32 image set already in the model's input space (a distilled set, generated
//                   images) with hard labels [N] or soft labels [N, C], in the epoch order of (seed, epoch);
//   BatchProducer   batches made on the fly by a callback (a generator), called once per step.
// Every batch carries hard labels (for soft labels: the argmax) for the trainer's running accuracy. Tested in
// tests/test_training_source.cpp.
#pragma once
#include <functional>
#include <memory>

#include "data/augment.h"
#include "kernels/host_staging.h"
#include "paradigms/engine/device_data.h"

namespace sp {

struct Batch {
  Tensor x;       // model input [b, C, H, W] in the model's dtype
  Tensor labels;  // i64 [b]: the hard labels (for soft labels their argmax), for accuracy and hard losses
  Tensor soft;    // f32 [b, classes] soft labels, when the source has them
  Tensor ids;     // i64 [b] sample ids within the source (dataset sources; for per-sample statistics)
  int64_t first = 0;  // position of the batch's first row in the epoch order
};

// Deterministic permutation of [0, n) for (seed, epoch), identical on every platform: the epoch order of the
// dataset and image-set sources.
std::vector<int64_t> epoch_permutation(int64_t n, uint64_t seed, int epoch);

class TrainingSource {
 public:
  virtual ~TrainingSource() = default;
  // Samples per epoch (for the step count and the schedule).
  virtual int64_t size() const = 0;
  // Called before the epoch's first batch.
  virtual void begin_epoch(Stream& s, int epoch) = 0;
  // Rows [lo, hi) of the epoch's order.
  virtual Batch batch(Stream& s, int epoch, int64_t lo, int64_t hi) = 0;
};

// The dataset a Trainer trains on today: images and labels of `d` (not owned), augmented as `aug` says
// (or normalised only when !augment), shuffled by epoch_permutation(n, seed, epoch).
class DatasetSource final : public TrainingSource {
 public:
  DatasetSource(const DeviceData& d, bool augment, const data::AugmentConfig& aug, uint64_t seed)
      : d_(d), augment_(augment), aug_(aug), seed_(seed) {}
  int64_t size() const override { return d_.size(); }
  void begin_epoch(Stream& s, int epoch) override;
  Batch batch(Stream& s, int epoch, int64_t lo, int64_t hi) override;

 private:
  const DeviceData& d_;
  bool augment_;
  data::AugmentConfig aug_;
  uint64_t seed_;
  Tensor ids_, labels_;  // the epoch's order and its labels, on the device
};

// An in-memory image set in the model's input space: images f32 [N, C, H, W] and either hard labels (i64 [N])
// or soft labels (f32 [N, classes], rows are distributions). Copied to s's device on construction.
class ImageSetSource final : public TrainingSource {
 public:
  ImageSetSource(Stream& s, const Tensor& images, const Tensor& labels, uint64_t seed);
  int64_t size() const override { return images_.size(0); }
  bool soft() const { return soft_.defined(); }
  void begin_epoch(Stream& s, int epoch) override;
  Batch batch(Stream& s, int epoch, int64_t lo, int64_t hi) override;

 private:
  Tensor images_, soft_;
  std::vector<int64_t> hard_;  // the hard labels (argmax of soft ones) on the host
  uint64_t seed_;
  std::vector<int64_t> order_;
  std::unique_ptr<HostUploader> uploader_;  // the batch's ids and labels, without a synchronisation
  const Stream* uploader_stream_ = nullptr;
};

// Batches made on the fly: `produce(s, epoch, step, batch_size)` is called once per step and returns the
// batch (x and labels at least). `size` samples per epoch in steps of `batch_size` (the last may be smaller).
class BatchProducer final : public TrainingSource {
 public:
  using Produce = std::function<Batch(Stream& s, int epoch, int64_t step, int64_t batch_size)>;
  BatchProducer(int64_t size, int64_t batch_size, Produce produce);
  int64_t size() const override { return size_; }
  void begin_epoch(Stream&, int) override {}
  Batch batch(Stream& s, int epoch, int64_t lo, int64_t hi) override;

 private:
  int64_t size_, batch_size_;
  Produce produce_;
};

}  // namespace sp
