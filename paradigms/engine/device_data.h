// A labelled uint8 image set resident on the device a Trainer runs on (paradigms/engine/train_loop.h), with
// its labels also on the host. Tested through tests/test_train_loop.cpp.
#pragma once
#include <vector>

#include "data/dataset.h"

namespace sp {

struct DeviceData {
  Tensor images;                     // u8 [N, C, H, W]
  Tensor labels;                     // i64 [N]
  std::vector<int64_t> host_labels;  // the same labels on the host
  int64_t size() const { return images.defined() ? images.size(0) : 0; }
  static DeviceData upload(const data::Dataset& d, Stream& s);
};

}  // namespace sp
