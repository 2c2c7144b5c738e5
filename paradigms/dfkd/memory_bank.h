// The memory bank of generated images a DFKD student learns from: one 8-bit batch per synthesis epoch (the
// reference keeps them as PNG files, so the student sees quantised images), each written atomically to
// DIR/epoch_NNNN.npy (u8 [B, C, H, W]) when it is made, so a resumed run reloads the batches of the epochs its
// checkpoint covers and regenerates the rest byte for byte. Resident on the device as one DeviceData (labels:
// the teacher's argmax of each clean image, for the student's agreement with the teacher and the image grid).
// Tested in tests/test_dfkd_synthesis.cpp (round trip, missing and corrupt batches) and through
// tests/test_dfkd_shadow.cpp (kill and resume).
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "paradigms/engine/device_data.h"

namespace sp::dfkd {

class MemoryBank {
 public:
  // capacity: images the bank will ever hold (epochs x batch), allocated on the device once.
  MemoryBank(std::string dir, int64_t capacity, const Shape& image, Stream& s);

  // Appends batch `epoch` (u8 [B, C, H, W] on the CPU, its teacher labels [B]) and writes its file; epoch must be
  // batches().
  void put(int epoch, const Tensor& images, const std::vector<int64_t>& labels);
  // Reloads batches 0 .. epochs - 1 from their files (labels from `label_of`, called per batch on the device
  // images). Throws naming a missing or malformed file.
  void load(int epochs, const std::function<std::vector<int64_t>(const Tensor& images)>& label_of);

  int batches() const { return batches_; }
  int64_t size() const { return n_; }
  const DeviceData& data() const { return data_; }  // the first size() images
  std::string file(int epoch) const;
  // The bank on the CPU (u8 [size, C, H, W]).
  Tensor host() const;

 private:
  void append(const Tensor& images, const std::vector<int64_t>& labels);
  std::string dir_;
  int64_t capacity_;
  Shape image_;
  Stream& s_;
  Tensor images_, labels_;  // capacity rows on the device
  std::vector<int64_t> host_labels_;
  int64_t n_ = 0;
  int batches_ = 0;
  DeviceData data_;
};

}  // namespace sp::dfkd
