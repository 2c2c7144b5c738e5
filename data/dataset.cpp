// Dataset helpers (see dataset.h).
#include "data/dataset.h"

#include <cstring>

#include "data/sha256.h"

namespace sp::data {

void Dataset::validate(const std::string& who) const {
  SP_CHECK(images.defined() && labels.defined(), who, ": dataset '", name, "' has no images or labels");
  SP_CHECK(images.dtype() == DType::u8 && images.dim() == 4, who, ": images must be u8 [N, C, H, W], got ",
           images.str());
  SP_CHECK(labels.dtype() == DType::i64 && labels.dim() == 1 && labels.size(0) == images.size(0), who,
           ": labels must be i64 [", images.size(0), "], got ", labels.str());
  SP_CHECK(images.device().is_cpu() && labels.device().is_cpu() && images.is_contiguous() && labels.is_contiguous(),
           who, ": dataset tensors must be contiguous CPU tensors, got ", images.str(), " and ", labels.str());
  SP_CHECK(!classes.empty(), who, ": dataset '", name, "' has no class names");
  const int64_t* l = labels.data<int64_t>();
  for (int64_t i = 0; i < size(); ++i)
    SP_CHECK(l[i] >= 0 && l[i] < num_classes(), who, ": label ", l[i], " of sample ", i, " out of range [0, ",
             num_classes(), ")");
}

std::vector<int64_t> Dataset::class_counts() const {
  std::vector<int64_t> c(classes.size(), 0);
  for (int64_t i = 0; i < size(); ++i) {
    int64_t y = label(i);
    SP_CHECK(y >= 0 && y < num_classes(), "class_counts: label ", y, " out of range");
    ++c[size_t(y)];
  }
  return c;
}

Dataset make_dataset(std::string name, int64_t n, int64_t c, int64_t h, int64_t w,
                     std::vector<std::string> classes) {
  SP_CHECK(n >= 0 && c > 0 && h > 0 && w > 0, "make_dataset: bad geometry [", n, ", ", c, ", ", h, ", ", w, "]");
  Dataset d;
  d.name = std::move(name);
  d.images = Tensor::empty({n, c, h, w}, DType::u8);
  d.labels = Tensor::zeros({n}, DType::i64);
  d.classes = std::move(classes);
  return d;
}

Dataset subset(const Dataset& d, const std::vector<int64_t>& indices, std::string name) {
  d.validate("subset");
  Dataset s = make_dataset(name.empty() ? d.name : std::move(name), int64_t(indices.size()), d.channels(),
                           d.height(), d.width(), d.classes);
  int64_t b = d.image_bytes();
  uint8_t* dst = s.images.data<uint8_t>();
  int64_t* lab = s.labels.data<int64_t>();
  for (size_t k = 0; k < indices.size(); ++k) {
    int64_t i = indices[k];
    SP_CHECK(i >= 0 && i < d.size(), "subset: index ", i, " out of range for dataset '", d.name, "' of ", d.size(),
             " samples");
    memcpy(dst + int64_t(k) * b, d.image(i), size_t(b));
    lab[k] = d.label(i);
  }
  return s;
}

Dataset concat(const std::vector<Dataset>& parts, std::string name) {
  SP_CHECK(!parts.empty(), "concat: no datasets for '", name, "'");
  int64_t n = 0;
  for (const Dataset& p : parts) {
    p.validate("concat");
    SP_CHECK(p.images.shape()[1] == parts[0].channels() && p.height() == parts[0].height() &&
                 p.width() == parts[0].width() && p.classes == parts[0].classes,
             "concat: '", p.name, "' ", p.images.str(), " does not match '", parts[0].name, "' ",
             parts[0].images.str(), " (geometry or class names)");
    n += p.size();
  }
  const Dataset& f = parts[0];
  Dataset out = make_dataset(std::move(name), n, f.channels(), f.height(), f.width(), f.classes);
  int64_t at = 0;
  for (const Dataset& p : parts) {
    memcpy(out.images.data<uint8_t>() + at * f.image_bytes(), p.images.raw_data(), p.images.nbytes());
    memcpy(out.labels.data<int64_t>() + at, p.labels.raw_data(), p.labels.nbytes());
    at += p.size();
  }
  return out;
}

std::string fingerprint(const Dataset& d) {
  d.validate("fingerprint");
  Sha256 h;
  std::string head = "sp-dataset-v1 " + d.images.shape().str();
  for (const std::string& c : d.classes) head += "\n" + c;
  h.update(head);
  // Labels as little-endian int64 so the digest does not depend on the host byte order.
  for (int64_t i = 0; i < d.size(); ++i) {
    uint8_t b[8];
    uint64_t v = uint64_t(d.label(i));
    for (int k = 0; k < 8; ++k) b[k] = uint8_t(v >> (8 * k));
    h.update(b, 8);
  }
  h.update(d.images.raw_data(), d.images.nbytes());
  return h.hex_digest();
}

const std::vector<std::string>& cifar10_classes() {
  static const std::vector<std::string> names = {"airplane", "automobile", "bird",  "cat",  "deer",
                                                 "dog",      "frog",       "horse", "ship", "truck"};
  return names;
}

}  // namespace sp::data
