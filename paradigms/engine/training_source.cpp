// The training sources (see training_source.h).
#include "paradigms/engine/training_source.h"

#include <algorithm>

#include "kernels/counter_rng.h"

namespace sp {

namespace {
constexpr uint64_t kShufflePurpose = 0x5348554646ULL;  // "SHUFF"

// Rows `order[lo, hi)` of `src` [N, ...] stacked into a new tensor on s's device.
Tensor gather_rows(Stream& s, const Tensor& src, const std::vector<int64_t>& order, int64_t lo, int64_t hi) {
  Shape shape = src.shape();
  shape[0] = hi - lo;
  Tensor out = Tensor::empty(shape, src.dtype(), s);
  for (int64_t i = lo; i < hi; ++i) out.narrow(0, i - lo, 1).copy_(src.narrow(0, order[size_t(i)], 1), s);
  return out;
}
}  // namespace

std::vector<int64_t> epoch_permutation(int64_t n, uint64_t seed, int epoch) {
  std::vector<int64_t> p(size_t(std::max<int64_t>(n, 0)));
  for (int64_t i = 0; i < n; ++i) p[i] = i;
  crng::Stream32 rng(crng::derive_key(seed, kShufflePurpose), uint64_t(epoch));
  for (int64_t i = n - 1; i > 0; --i) std::swap(p[i], p[int64_t(rng.below64(uint64_t(i + 1)))]);
  return p;
}

void DatasetSource::begin_epoch(Stream& s, int epoch) {
  // The epoch's order and the labels in that order go to the device once; batches are slices of them.
  const int64_t n = d_.size();
  std::vector<int64_t> perm = epoch_permutation(n, seed_, epoch), perm_labels(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) perm_labels[i] = d_.host_labels[size_t(perm[i])];
  ids_ = Tensor::from_vector(perm, {n}).to(s.device(), s);
  labels_ = Tensor::from_vector(perm_labels, {n}).to(s.device(), s);
}

Batch DatasetSource::batch(Stream& s, int epoch, int64_t lo, int64_t hi) {
  Batch b;
  b.first = lo;
  b.ids = ids_.slice(0, lo, hi);
  b.labels = labels_.slice(0, lo, hi);
  b.x = augment_ ? data::augment_batch(s, d_.images, b.ids, seed_, uint64_t(epoch), aug_)
                 : data::normalize_batch(s, d_.images, b.ids, aug_.norm, aug_.dtype);
  return b;
}

ImageSetSource::ImageSetSource(Stream& s, const Tensor& images, const Tensor& labels, uint64_t seed) : seed_(seed) {
  SP_CHECK(images.defined() && images.dim() == 4 && images.dtype() == DType::f32 && images.size(0) > 0,
           "ImageSetSource: images ", images.defined() ? images.str() : std::string("(undefined)"),
           " must be a non-empty f32 [N, C, H, W] set in the model's input space");
  const int64_t n = images.size(0);
  images_ = images.contiguous().to(s.device(), s);
  if (labels.dtype() == DType::i64) {
    SP_CHECK(labels.dim() == 1 && labels.size(0) == n, "ImageSetSource: hard labels ", labels.str(), " must be [", n,
             "]");
    hard_ = labels.to_vector<int64_t>();
    return;
  }
  SP_CHECK(labels.dtype() == DType::f32 && labels.dim() == 2 && labels.size(0) == n && labels.size(1) >= 2,
           "ImageSetSource: labels ", labels.str(), " must be hard (i64 [", n, "]) or soft (f32 [", n, ", classes])");
  std::vector<float> host = labels.contiguous().to_vector<float>();
  const int64_t c = labels.size(1);
  for (int64_t i = 0; i < n; ++i) {
    const float* row = &host[size_t(i * c)];
    hard_.push_back(std::max_element(row, row + c) - row);
  }
  soft_ = labels.contiguous().to(s.device(), s);
}

void ImageSetSource::begin_epoch(Stream&, int epoch) { order_ = epoch_permutation(size(), seed_, epoch); }

Batch ImageSetSource::batch(Stream& s, int, int64_t lo, int64_t hi) {
  Batch b;
  b.first = lo;
  b.x = gather_rows(s, images_, order_, lo, hi);
  std::vector<int64_t> ids(order_.begin() + lo, order_.begin() + hi), labels;
  for (int64_t i : ids) labels.push_back(hard_[size_t(i)]);
  if (uploader_stream_ != &s) {
    uploader_ = std::make_unique<HostUploader>(s);
    uploader_stream_ = &s;
  }
  b.ids = uploader_->upload(ids, {hi - lo});
  b.labels = uploader_->upload(labels, {hi - lo});
  if (soft_.defined()) b.soft = gather_rows(s, soft_, order_, lo, hi);
  return b;
}

BatchProducer::BatchProducer(int64_t size, int64_t batch_size, Produce produce)
    : size_(size), batch_size_(batch_size), produce_(std::move(produce)) {
  SP_CHECK(size >= 1 && batch_size >= 1 && produce_, "BatchProducer: size ", size, " and batch size ", batch_size,
           " must be >= 1, with a producer");
}

Batch BatchProducer::batch(Stream& s, int epoch, int64_t lo, int64_t hi) {
  Batch b = produce_(s, epoch, lo / batch_size_, hi - lo);
  SP_CHECK(b.x.defined() && b.x.dim() == 4 && b.x.size(0) == hi - lo && b.labels.defined() &&
               b.labels.numel() == hi - lo,
           "BatchProducer: the producer returned ", b.x.defined() ? b.x.str() : std::string("no images"),
           " for a batch of ", hi - lo, " (images [b, C, H, W] and labels [b] needed)");
  b.first = lo;
  return b;
}

}  // namespace sp
