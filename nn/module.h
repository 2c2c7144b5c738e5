// Module: any network as a pure function of a flat parameter vector, with named parameters (PyTorch's
// state_dict names, so safetensors files load there) and optional buffers (BN running statistics) in a second
// flat vector; its forward pass runs on ANY parameter vector of the right size. A Network has one input
// (forward(theta, buffers, x)): classifiers (nn/model.h, which adds the class count, logits and penultimate
// features) and generators (nn/models/dcgan_generator.h); a denoiser takes the noisy images and their
// timesteps and labels (nn/models/ddpm_unet.h). Layers are declared with nn/models/layer_builder.h. Tested through
// tests/test_models.cpp and tests/test_layer_builder.cpp.
#pragma once
#include <cstdint>
#include <string>

#include "nn/params.h"
#include "nn/tape.h"

namespace sp {

class Module {
 public:
  virtual ~Module() = default;
  // The network's name for messages and model files ("resnet18", "dcgan_generator").
  virtual const std::string& name() const = 0;
  virtual const ParamLayout& params() const = 0;
  virtual const ParamLayout& buffers() const = 0;  // empty for networks without running statistics
  // PyTorch's default initialisation, deterministic from the seed. theta: [P], buffers: [B] flat tensors on
  // any device.
  virtual void init(Stream& s, const Tensor& theta, const Tensor& buffers, uint64_t seed) const = 0;
  // True when the network has batch norm (DP-SGD refuses such models).
  bool has_batch_norm() const { return buffers().numel() > 0; }
};

class Network : public Module {
 public:
  // The network's output for input x. In training mode batch norm uses batch statistics and updates the
  // running statistics inside `buffers` in place; in eval mode it uses them.
  virtual Var forward(Tape& t, Var theta, const Tensor& buffers, Var x, bool training) const = 0;
};

}  // namespace sp
