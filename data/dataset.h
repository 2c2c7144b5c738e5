// Dataset: an in-memory labelled image set as every data source in data/ produces it: uint8 images
// [N, C, H, W] (channel planes, row-major, as CIFAR-10's binary layout), int64 labels [N] and the class
// names (label k names classes[k]). Both tensors live on the CPU and are contiguous; training copies them to
// the device once. Tested in tests/test_data_dataset.cpp (validation, subset, concat, fingerprint).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/tensor.h"

namespace sp::data {

struct Dataset {
  std::string name;                  // where it came from, e.g. "cifar10/train" or "shapes10/test"
  Tensor images;                     // u8 [N, C, H, W], CPU, contiguous
  Tensor labels;                     // i64 [N], CPU, each in [0, classes.size())
  std::vector<std::string> classes;  // class names in label order

  int64_t size() const { return images.defined() ? images.size(0) : 0; }
  int num_classes() const { return int(classes.size()); }
  int64_t channels() const { return images.size(1); }
  int64_t height() const { return images.size(2); }
  int64_t width() const { return images.size(3); }
  int64_t image_bytes() const { return channels() * height() * width(); }
  const uint8_t* image(int64_t i) const { return images.data<uint8_t>() + i * image_bytes(); }
  int64_t label(int64_t i) const { return labels.data<int64_t>()[i]; }

  // Throws (naming `who`) unless shapes, dtypes, devices and every label are consistent.
  void validate(const std::string& who) const;
  // Number of samples per class, length num_classes().
  std::vector<int64_t> class_counts() const;
};

struct DatasetSplits {
  Dataset train, test;
};

// Allocates an N-image dataset of the given geometry (images uninitialised, labels zero).
Dataset make_dataset(std::string name, int64_t n, int64_t c, int64_t h, int64_t w, std::vector<std::string> classes);
// Copy of the samples at `indices` (in that order; repeats allowed).
Dataset subset(const Dataset& d, const std::vector<int64_t>& indices, std::string name = "");
// Samples of all parts in order; parts must agree on geometry and classes.
Dataset concat(const std::vector<Dataset>& parts, std::string name);
// SHA-256 (hex) over geometry, class names, labels and pixels: identifies a dataset in experiment records.
std::string fingerprint(const Dataset& d);

// The CIFAR-10 class names in official label order (also alphabetical).
const std::vector<std::string>& cifar10_classes();

}  // namespace sp::data
