// CIFAR-10 in the official binary layout ("cifar-10-batches-bin": data_batch_1..5.bin, test_batch.bin,
// batches.meta.txt). Each record is 1 label byte then 3,072 pixel bytes: the R, G and B 32x32 planes,
// row-major, which is exactly the Dataset's [C, H, W] layout. Tested in tests/test_data_cifar_binary.cpp
// (write/read round trip, truncated file, wrong record size, label out of range, missing file).
#pragma once
#include <string>

#include "data/dataset.h"

namespace sp::data {

constexpr int64_t kCifarRecordBytes = 1 + 3 * 32 * 32;
constexpr int64_t kCifarRecordsPerBatch = 10000;

// One batch file; every error names the file.
Dataset read_cifar10_batch(const std::string& path, const std::vector<std::string>& classes = cifar10_classes());
// Writes a dataset of 3x32x32 images with labels < 256 as one batch file (atomically).
void write_cifar10_batch(const std::string& path, const Dataset& d);

struct CifarBinaryOptions {
  // Official batches hold exactly 10,000 records; a file cut at a record boundary is caught only by this.
  bool require_full_batches = true;
};

// `dir` is the cifar-10-batches-bin folder or a folder containing it. Class names come from
// batches.meta.txt when present (else the official names).
DatasetSplits load_cifar10_binary(const std::string& dir, const CifarBinaryOptions& opt = {});

}  // namespace sp::data
