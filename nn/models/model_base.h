// ModelBase: what the concrete models (nn/models/*.cpp) share. A model's constructor declares its layers
// with add_conv / add_batch_norm / add_group_norm / add_linear, which append named parameters (and BN
// buffers) to the layouts, remember how PyTorch initialises each, and return a small layer record holding
// the resolved offsets; forward then applies the layers with conv / norm / linear, taking views of theta
// (Tape::view, no copies, no name lookups). Tested through tests/test_models.cpp and
// tests/test_models_golden.cpp.
#pragma once
#include <string>
#include <vector>

#include "kernels/conv.h"
#include "nn/model.h"

namespace sp::models {

// A parameter (or buffer) as a range of its flat vector.
struct Slot {
  int64_t offset = -1;
  Shape shape;
  bool valid() const { return offset >= 0; }
};

struct ConvLayer {
  Slot weight, bias;  // bias invalid when the conv has none
  Conv2dParams p;
};

struct NormLayer {
  bool batch = true;    // batch norm (with running statistics) or group norm
  int64_t groups = 1;   // group norm only
  Slot weight, bias;
  Slot running_mean, running_var;  // batch norm only: ranges of the buffers vector
};

struct LinearLayer {
  Slot weight, bias;
};

class ModelBase : public Model {
 public:
  const ModelConfig& config() const override { return cfg_; }
  const ParamLayout& params() const override { return params_; }
  const ParamLayout& buffers() const override { return buffers_; }
  void init(Stream& s, const Tensor& theta, const Tensor& buffers, uint64_t seed) const override;
  bool has_batch_norm() const override { return buffers_.numel() > 0; }
  // Every concrete model implements forward_features; the logits are its second half.
  Var forward(Tape& t, Var theta, const Tensor& buffers, Var x, bool training) const final {
    return forward_features(t, theta, buffers, x, training).logits;
  }
  ModelOutputs forward_features(Tape& t, Var theta, const Tensor& buffers, Var x, bool training) const override = 0;

 protected:
  explicit ModelBase(const ModelConfig& cfg) : cfg_(cfg) {}

  // Declaration (constructor). Weights follow PyTorch's defaults: conv and linear weights and biases
  // U(+-1/sqrt(fan_in)) (kaiming-uniform with a = sqrt(5)), norm weight 1 and bias 0, running mean 0 and
  // running var 1. Conv and linear weights are marked for weight decay, biases and norm parameters are not
  // (ParamSpec::decay), so a trainer can opt into that common variant with params().decay_mask(); PyTorch's
  // default, which the golden reference uses, decays everything (no mask).
  ConvLayer add_conv(const std::string& name, int64_t in, int64_t out, int64_t kernel, int64_t stride,
                     int64_t padding, bool bias);
  NormLayer add_batch_norm(const std::string& name, int64_t channels);
  NormLayer add_group_norm(const std::string& name, int64_t channels, int64_t groups);
  LinearLayer add_linear(const std::string& name, int64_t in, int64_t out);

  // Application (forward). `buffers` is the flat running-statistics vector (batch norm only).
  Var conv(Tape& t, Var theta, const ConvLayer& l, Var x) const;
  Var norm(Tape& t, Var theta, const Tensor& buffers, const NormLayer& l, Var x, bool training) const;
  Var linear(Tape& t, Var theta, const LinearLayer& l, Var x) const;

  // Validates forward's arguments against the configuration; errors name the model and the shapes.
  void check_forward(Tape& t, Var theta, const Tensor& buffers, Var x) const;

  ModelConfig cfg_;

 private:
  struct InitRule {
    double lo = 0, hi = 0;  // U(lo, hi); lo == hi means the constant lo
  };
  Slot add_param(const std::string& name, const Shape& shape, InitRule r, bool decay);
  Slot add_buffer(const std::string& name, const Shape& shape, double value);
  static void init_flat(Stream& s, const Tensor& flat, const ParamLayout& layout, const std::vector<InitRule>& rules,
                        uint64_t seed, const char* who, const std::string& model);

  ParamLayout params_, buffers_;
  std::vector<InitRule> param_init_, buffer_init_;
};

// Validates the fields every model shares (width, classes, channels, image size), naming the model.
void check_config(const ModelConfig& cfg, int64_t min_image_size);

// The concrete models (one file each).
std::unique_ptr<Model> make_resnet18(const ModelConfig& cfg, bool group_norm);
std::unique_ptr<Model> make_wrn16_4(const ModelConfig& cfg);
std::unique_ptr<Model> make_convnet3(const ModelConfig& cfg);

}  // namespace sp::models
