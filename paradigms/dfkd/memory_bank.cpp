// The memory bank of generated 8-bit images (see memory_bank.h).
#include "paradigms/dfkd/memory_bank.h"

#include <cstdio>
#include <filesystem>

#include "data/npy.h"
#include "kernels/error.h"

namespace fs = std::filesystem;

namespace sp::dfkd {

MemoryBank::MemoryBank(std::string dir, int64_t capacity, const Shape& image, Stream& s)
    : dir_(std::move(dir)), capacity_(capacity), image_(image), s_(s) {
  SP_CHECK(capacity >= 1 && image.size() == 3, "MemoryBank: capacity ", capacity, " and image ", image.size(), "-d");
  images_ = Tensor::empty({capacity, image[0], image[1], image[2]}, DType::u8, s);
  labels_ = Tensor::zeros({capacity}, DType::i64, s);
  fs::create_directories(dir_);
}

std::string MemoryBank::file(int epoch) const {
  char name[32];
  std::snprintf(name, sizeof name, "/epoch_%04d.npy", epoch);
  return dir_ + name;
}

void MemoryBank::append(const Tensor& images, const std::vector<int64_t>& labels) {
  const int64_t b = images.size(0);
  SP_CHECK(n_ + b <= capacity_, "MemoryBank: ", n_, " + ", b, " images exceed its capacity ", capacity_);
  SP_CHECK(int64_t(labels.size()) == b, "MemoryBank: ", b, " images and ", labels.size(), " labels");
  images_.narrow(0, n_, b).copy_(images.to(s_.device(), s_), s_);
  labels_.narrow(0, n_, b).copy_(Tensor::from_vector(labels, {b}).to(s_.device(), s_), s_);
  host_labels_.insert(host_labels_.end(), labels.begin(), labels.end());
  n_ += b;
  ++batches_;
  data_.images = images_.narrow(0, 0, n_);
  data_.labels = labels_.narrow(0, 0, n_);
  data_.host_labels = host_labels_;
}

void MemoryBank::put(int epoch, const Tensor& images, const std::vector<int64_t>& labels) {
  SP_CHECK(epoch == batches_, "MemoryBank: batch ", epoch, " given after ", batches_, " batches");
  SP_CHECK(images.dtype() == DType::u8 && images.dim() == 4 && images.size(1) == image_[0] &&
               images.size(2) == image_[1] && images.size(3) == image_[2],
           "MemoryBank: batch ", images.str(), " is not u8 [B, ", image_[0], ", ", image_[1], ", ", image_[2], "]");
  SP_CHECK(n_ + images.size(0) <= capacity_, "MemoryBank: ", n_, " + ", images.size(0), " images exceed its capacity ",
           capacity_);
  SP_CHECK(int64_t(labels.size()) == images.size(0), "MemoryBank: ", images.size(0), " images and ", labels.size(), " labels");
  Tensor c = images.contiguous();  // checked before its file is written: a refused batch leaves no file
  const Shape& sh = images.shape();
  std::vector<int64_t> shape(sh.begin(), sh.end());
  npy::write(file(epoch), DType::u8, shape, c.data<uint8_t>());
  append(c, labels);
}

void MemoryBank::load(int epochs, const std::function<std::vector<int64_t>(const Tensor& images)>& label_of) {
  SP_CHECK(batches_ == 0, "MemoryBank: load into a bank that holds batches");
  for (int e = 0; e < epochs; ++e) {
    const std::string path = file(e);
    SP_CHECK(fs::exists(path), path, ": missing; the checkpoint covers ", epochs,
             " synthesis epochs, so this shadow cannot resume (delete its checkpoint.safetensors to start over)");
    npy::Reader r(path);
    SP_CHECK(r.dtype() == DType::u8 && r.shape().size() == 4 && r.shape()[1] == image_[0] && r.shape()[2] == image_[1] &&
                 r.shape()[3] == image_[2],
             path, ": expected u8 [B, ", image_[0], ", ", image_[1], ", ", image_[2], "], found ",
             npy::shape_str(r.shape()));
    std::vector<uint8_t> v = r.read_all<uint8_t>();
    Tensor cpu = Tensor::from_vector(v, Shape(std::span<const int64_t>(r.shape())));
    Tensor dev = cpu.to(s_.device(), s_);
    append(cpu, label_of(dev));
  }
}

Tensor MemoryBank::host() const { return images_.narrow(0, 0, n_).to(Device::cpu(), s_).contiguous(); }

}  // namespace sp::dfkd
