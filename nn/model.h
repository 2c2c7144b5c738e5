// Model: a network as a pure function of a flat parameter vector. A model describes its parameters and
// buffers (BN running statistics) as ParamLayouts and runs forward(theta, buffers, x) on ANY parameter
// vector of the right size: ordinary training passes the live parameters, trajectory matching passes stored
// snapshots, DP-SGD and ensembles pass other vectors. Parameter names follow the usual PyTorch definitions so
// checkpoints load there. forward_features also returns the penultimate features (the classifier's input),
// for embedding-based coreset selection. Implementations: nn/models/*.cpp. Tested by tests/test_models*.cpp
// (golden states; features against the classifier).
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "nn/params.h"
#include "nn/tape.h"

namespace sp {

struct ModelConfig {
  std::string name = "resnet18";  // resnet18 | resnet18_gn | wrn16_4 | convnet3
  int64_t width = 64;             // base width (resnet18: 64; convnet3: 128; wrn16_4: 16 * k with k = 4)
  int64_t num_classes = 10;
  int64_t in_channels = 3;
  int64_t image_size = 32;
};

// The penultimate features [N, F] (the input of the final linear classifier) and the logits [N, classes].
struct ModelOutputs {
  Var features, logits;
};

class Model {
 public:
  virtual ~Model() = default;
  virtual const ModelConfig& config() const = 0;
  virtual const ParamLayout& params() const = 0;
  virtual const ParamLayout& buffers() const = 0;  // empty for models without running statistics
  // PyTorch's default initialisation (kaiming-uniform conv/linear weights, BN weight 1 and bias 0, running
  // mean 0 and var 1), deterministic from the seed. theta: [P], buffers: [B] flat tensors on any device.
  virtual void init(Stream& s, const Tensor& theta, const Tensor& buffers, uint64_t seed) const = 0;
  // Logits [N, num_classes] for images x [N, C, H, W]. In training mode batch norm uses batch statistics and
  // updates the running statistics inside `buffers` in place; in eval mode it uses them.
  virtual Var forward(Tape& t, Var theta, const Tensor& buffers, Var x, bool training) const = 0;
  // The same pass, also returning the penultimate features (logits = classifier(features)). The models of
  // nn/models implement it; the default throws, naming the model, for models that do not expose features.
  virtual ModelOutputs forward_features(Tape& t, Var theta, const Tensor& buffers, Var x, bool training) const;
  // True when the model has batch norm (DP-SGD refuses such models).
  virtual bool has_batch_norm() const = 0;
};

// Throws sp::Error naming the model for an unknown name or a bad width/class count.
std::unique_ptr<Model> make_model(const ModelConfig& cfg);

}  // namespace sp
