// ModelBase: what the concrete classifiers (nn/models/*.cpp) share: their configuration and a LayerBuilder
// (nn/models/layer_builder.h) in which a model's constructor declares its layers and with which its forward
// applies them. Tested through tests/test_models.cpp and tests/test_models_golden.cpp.
#pragma once
#include <memory>

#include "nn/model.h"
#include "nn/models/layer_builder.h"

namespace sp::models {

class ModelBase : public Model {
 public:
  const ModelConfig& config() const override { return cfg_; }
  const ParamLayout& params() const override { return layers_.params(); }
  const ParamLayout& buffers() const override { return layers_.buffers(); }
  void init(Stream& s, const Tensor& theta, const Tensor& buffers, uint64_t seed) const override {
    layers_.init(s, theta, buffers, seed);
  }
  // Every concrete model implements forward_features; the logits are its second half.
  Var forward(Tape& t, Var theta, const Tensor& buffers, Var x, bool training) const final {
    return forward_features(t, theta, buffers, x, training).logits;
  }
  ModelOutputs forward_features(Tape& t, Var theta, const Tensor& buffers, Var x, bool training) const override = 0;

 protected:
  explicit ModelBase(const ModelConfig& cfg) : cfg_(cfg), layers_(cfg.name, cfg.bf16) {}

  // Validates forward's arguments against the configuration; errors name the model and the shapes.
  void check_forward(Tape& t, Var theta, const Tensor& buffers, Var x) const;
  // The layout this forward keeps its activations in (ModelConfig::layout resolved for theta's dtype and
  // device). Under a LayerTrace, whose readers take NCHW activations, automatic resolves to NCHW and an
  // explicit nhwc is an error.
  Layout activation_layout(Tape& t, Var theta) const;

  ModelConfig cfg_;
  LayerBuilder layers_;  // the constructor declares the layers here; forward applies them (and store()s, under bf16)
};

// Validates the fields every model shares (width, classes, channels, image size), naming the model.
void check_config(const ModelConfig& cfg, int64_t min_image_size);
// For models that run NCHW only (group norm takes NCHW): an explicit nhwc layout is an error naming the model.
void check_nchw_only(const ModelConfig& cfg);

// The concrete models (one file each).
std::unique_ptr<Model> make_resnet18(const ModelConfig& cfg, bool group_norm);
std::unique_ptr<Model> make_wrn16_4(const ModelConfig& cfg);
std::unique_ptr<Model> make_convnet3(const ModelConfig& cfg);

}  // namespace sp::models
