// Model: an image classifier, a Network (nn/module.h: a network as a pure function of a flat parameter
// vector, with PyTorch-named parameters) with what only classifiers have: a configuration with the class
// count, logits as the output, and forward_features, which also returns the penultimate features (the
// classifier's input) for embedding-based coreset selection. Ordinary training passes the live parameters,
// trajectory matching passes stored snapshots, DP-SGD and ensembles pass other vectors. Implementations: nn/models/*.cpp. Tested by tests/test_models*.cpp
// (golden states; features against the classifier).
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "nn/module.h"

namespace sp {

// Where the convolutional classifiers keep their activations' channels (kernels/layout.h). automatic:
// channels-last where it was measured faster (float32 on the CPU fast path; docs/benchmarks.md), NCHW
// elsewhere (float64, SP_CPU_FAST=0, CUDA until measured there). Parameters keep PyTorch's layout either way,
// so checkpoints do not depend on it.
enum class ActivationLayout { automatic, nchw, nhwc };

struct ModelConfig {
  std::string name = "resnet18";  // resnet18 | resnet18_gn | wrn16_4 | convnet3
  int64_t width = 64;             // base width (resnet18: 64; convnet3: 128; wrn16_4: 16 * k with k = 4)
  int64_t num_classes = 10;
  int64_t in_channels = 3;
  int64_t image_size = 32;
  ActivationLayout layout = ActivationLayout::automatic;
  // Precision bf16 (nn/precision.h): the forward rounds to bfloat16 wherever a bf16 step stores a tensor, and
  // so does the backward with those tensors' gradients (nn/models/layer_builder.h); theta stays the float32
  // (or float64) master. A run's configuration sets it from device.precision.
  bool bf16 = false;
};

// "auto", "nchw" or "nhwc" (config files, command lines) and back; throws naming the bad value.
ActivationLayout parse_activation_layout(const std::string& s);
const char* activation_layout_name(ActivationLayout l);

// The penultimate features [N, F] (the input of the final linear classifier) and the logits [N, classes].
struct ModelOutputs {
  Var features, logits;
};

class Model : public Network {
 public:
  virtual const ModelConfig& config() const = 0;
  const std::string& name() const override { return config().name; }
  // Logits [N, num_classes] for images x [N, C, H, W] (Network::forward).
  // The same pass, also returning the penultimate features (logits = classifier(features)). The models of
  // nn/models implement it; the default throws, naming the model, for models that do not expose features.
  virtual ModelOutputs forward_features(Tape& t, Var theta, const Tensor& buffers, Var x, bool training) const;
};

// Throws sp::Error naming the model for an unknown name or a bad width/class count.
std::unique_ptr<Model> make_model(const ModelConfig& cfg);

}  // namespace sp
