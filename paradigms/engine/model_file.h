// A trained model as a PyTorch state_dict in safetensors: every parameter under its usual PyTorch name
// ("layer1.0.conv1.weight"), every buffer ("bn1.running_mean") and, for each batch norm, the
// "num_batches_tracked" counter PyTorch keeps (the number of training steps), so
// `model.load_state_dict(safetensors.torch.load_file(path))` works with strict=True on the usual definitions.
// Metadata records the model name, width and class count. Tested in tests/test_sp_train.cpp (round trip,
// names, num_batches_tracked) and through sp_train's outputs.
#pragma once
#include <map>
#include <string>

#include "nn/model.h"

namespace sp {

// theta [P] and buffers [B] on s's device.
void save_model(const std::string& path, const Model& m, const Tensor& theta, const Tensor& buffers, int64_t steps,
                std::map<std::string, std::string> metadata = {}, Stream& s = Stream::cpu());
// Loads a file written by save_model (or a PyTorch state_dict) into theta and buffers; throws naming the file
// and the first missing or mis-shaped tensor.
void load_model(const std::string& path, const Model& m, const Tensor& theta, const Tensor& buffers,
                Stream& s = Stream::cpu());

}  // namespace sp
