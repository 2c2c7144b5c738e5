// Uploading a dataset for training (see device_data.h).
#include "paradigms/engine/device_data.h"

namespace sp {

DeviceData DeviceData::upload(const data::Dataset& d, Stream& s) {
  d.validate("DeviceData::upload");
  DeviceData out;
  out.images = d.images.to(s.device(), s);
  out.labels = d.labels.to(s.device(), s);
  out.host_labels = d.labels.to_vector<int64_t>();
  return out;
}

}  // namespace sp
