// ConvNet-3, the dataset-distillation network: three times [3x3 conv (pad 1, bias) -> instance norm (affine,
// GroupNorm with one group per channel) -> ReLU -> 2x2 average pool], flatten, linear. Parameter names are
// the nn.Sequential indices of the reference (features.{0,4,8} convs, features.{1,5,9} norms, classifier):
// 320,010 parameters at the default width 128 and 24,714 at width 32 for 32x32 RGB inputs and 10 classes.
// Instance norm and ReLU run as one fused op (LayerBuilder::norm_act). Tested against PyTorch in
// tests/test_models_golden.cpp, fused against unfused in tests/test_models_nhwc.cpp.
#include <string>

#include "nn/models/model_base.h"
#include "nn/ops_conv.h"
#include "nn/ops_elementwise.h"

namespace sp::models {
namespace {

class ConvNet3 final : public ModelBase {
 public:
  explicit ConvNet3(const ModelConfig& cfg) : ModelBase(cfg) {
    check_config(cfg, 8);
    check_nchw_only(cfg);
    const int64_t w = cfg.width;
    int64_t in = cfg.in_channels, size = cfg.image_size;
    for (int d = 0; d < 3; ++d) {
      convs_[d] = layers_.add_conv("features." + std::to_string(4 * d), in, w, 3, 1, 1, true);
      norms_[d] = layers_.add_group_norm("features." + std::to_string(4 * d + 1), w, w);
      in = w;
      size /= 2;  // the pool floors odd sizes, as PyTorch's
    }
    features_ = w * size * size;
    classifier_ = layers_.add_linear("classifier", features_, cfg.num_classes);
  }

  ModelOutputs forward_features(Tape& t, Var theta, const Tensor& buffers, Var x, bool training) const override {
    check_forward(t, theta, buffers, x);
    Var h = layers_.store(t, x);  // bf16: the batch as stored (layer_builder.h)
    for (int d = 0; d < 3; ++d) {
      h = layers_.norm_act(t, theta, buffers, norms_[d], layers_.conv(t, theta, convs_[d], h), training, Layout::nchw,
                           {Var{}, true});
      h = layers_.store(t, ag::avg_pool2d(t, h, {.kernel = 2}));
    }
    h = t.reshape(h, {t.value(h).size(0), features_});
    return {h, layers_.linear(t, theta, classifier_, h)};
  }

 private:
  ConvLayer convs_[3];
  NormLayer norms_[3];
  int64_t features_ = 0;
  LinearLayer classifier_;
};

}  // namespace

std::unique_ptr<Model> make_convnet3(const ModelConfig& cfg) { return std::make_unique<ConvNet3>(cfg); }

}  // namespace sp::models
