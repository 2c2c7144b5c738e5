// One string names a dataset everywhere (tools, experiment records):
//   "shapes10"                          built-in procedural set, defaults seed=0 train=10000 test=2000
//   "shapes10:seed=3,train=50000,test=10000"
//   "cifar10:<dir>"                     official binary batches (cifar-10-batches-bin) or an image folder
//                                       (<dir>/train/<class>/...), whichever <dir> holds
//   "folder:<dir>"                      any image folder (root/{train,test}/<class>/*.png|jpg)
// Tested in tests/test_data_sources.cpp.
#pragma once
#include <string>

#include "data/dataset.h"

namespace sp::data {

// Upper bound on a generated split's size (shapes10 train/test): far above any study (CIFAR-10 has 50,000
// training images), far below counts whose image bytes overflow or cannot be allocated.
inline constexpr int64_t kMaxDatasetImages = 100'000'000;

struct DatasetSpec {
  std::string kind;     // "shapes10", "cifar10" or "folder"
  std::string path;     // for cifar10 / folder
  uint64_t seed = 0;    // shapes10
  int64_t n_train = 10000, n_test = 2000;  // shapes10
  std::string str() const;  // canonical form (defaults spelled out)
};

DatasetSpec parse_dataset_spec(const std::string& spec);
DatasetSplits load_dataset(const DatasetSpec& spec);
inline DatasetSplits load_dataset(const std::string& spec) { return load_dataset(parse_dataset_spec(spec)); }

}  // namespace sp::data
