// ResNet-18, CIFAR variant (the widely used "pytorch-cifar" definition): a 3x3 stem conv (stride 1, no
// max-pool), four stages of two BasicBlocks with widths w, 2w, 4w, 8w and strides 1, 2, 2, 2, global average
// pooling and a linear classifier; 11,173,962 parameters at w = 64 for 10 classes. `resnet18` normalises with
// batch norm; `resnet18_gn` swaps each BN for GroupNorm(gcd(32, C), C) under the same names (what Opacus's
// ModuleValidator.fix does), for DP-SGD. For 32x32 inputs the pooling is the 4x4 average pool of the
// reference; other sizes pool globally. Activations are NCHW or channels-last (ModelConfig::layout; the
// input batch is permuted once at the entry); batch norm, the residual add and ReLU run as one fused op
// (LayerBuilder::norm_act). Tested against PyTorch in tests/test_models_golden.cpp, channels-last against
// NCHW and fused against unfused in tests/test_models_nhwc.cpp.
#include <numeric>
#include <string>
#include <vector>

#include "nn/models/model_base.h"
#include "nn/ops_conv.h"
#include "nn/ops_elementwise.h"
#include "nn/ops_shape.h"

namespace sp::models {
namespace {

class ResNet18 final : public ModelBase {
 public:
  ResNet18(const ModelConfig& cfg, bool group_norm) : ModelBase(cfg), group_norm_(group_norm) {
    check_config(cfg, 8);
    if (group_norm) check_nchw_only(cfg);
    const int64_t w = cfg.width;
    stem_ = layers_.add_conv("conv1", cfg.in_channels, w, 3, 1, 1, false);
    stem_norm_ = add_norm("bn1", w);
    int64_t in = w;
    for (int stage = 0; stage < 4; ++stage) {
      const int64_t out = w << stage;
      for (int b = 0; b < 2; ++b) {
        const std::string p = "layer" + std::to_string(stage + 1) + "." + std::to_string(b) + ".";
        const int64_t stride = (stage > 0 && b == 0) ? 2 : 1;
        Block k;
        k.conv1 = layers_.add_conv(p + "conv1", in, out, 3, stride, 1, false);
        k.bn1 = add_norm(p + "bn1", out);
        k.conv2 = layers_.add_conv(p + "conv2", out, out, 3, 1, 1, false);
        k.bn2 = add_norm(p + "bn2", out);
        k.projection = stride != 1 || in != out;
        if (k.projection) {
          k.shortcut_conv = layers_.add_conv(p + "shortcut.0", in, out, 1, stride, 0, false);
          k.shortcut_norm = add_norm(p + "shortcut.1", out);
        }
        blocks_.push_back(k);
        in = out;
      }
    }
    classifier_ = layers_.add_linear("linear", in, cfg.num_classes);
  }

  ModelOutputs forward_features(Tape& t, Var theta, const Tensor& buffers, Var x, bool training) const override {
    check_forward(t, theta, buffers, x);
    // Group norm takes NCHW (nn/models/layer_builder.h), so resnet18_gn stays there.
    const Layout l = group_norm_ ? Layout::nchw : activation_layout(t, theta);
    // conv, then norm with the epilogue (residual add, ReLU) fused into it where it can be (LayerBuilder::norm_act).
    auto conv_norm = [&](const ConvLayer& c, const NormLayer& n, Var in, ag::NormEpilogue e) {
      return layers_.norm_act(t, theta, buffers, n, layers_.conv(t, theta, c, in, l), training, l, e);
    };
    x = layers_.store(t, x);  // bf16: the batch as stored (layer_builder.h)
    if (l == Layout::nhwc) x = ag::to_layout(t, x, Layout::nhwc);  // the one permutation of the step
    Var h = conv_norm(stem_, stem_norm_, x, {Var{}, true});
    for (const Block& b : blocks_) {
      Var o = conv_norm(b.conv1, b.bn1, h, {Var{}, true});
      Var shortcut = b.projection ? conv_norm(b.shortcut_conv, b.shortcut_norm, h, {}) : h;
      h = conv_norm(b.conv2, b.bn2, o, {shortcut, true});
    }
    Var f = layers_.store(t, ag::global_avg_pool(t, h, l));
    return {f, layers_.linear(t, theta, classifier_, f)};
  }

 private:
  struct Block {
    ConvLayer conv1, conv2, shortcut_conv;
    NormLayer bn1, bn2, shortcut_norm;
    bool projection = false;  // 1x1 conv + norm on the shortcut when the stride or width changes
  };
  NormLayer add_norm(const std::string& name, int64_t channels) {
    return group_norm_ ? layers_.add_group_norm(name, channels, std::gcd(int64_t(32), channels))
                       : layers_.add_batch_norm(name, channels);
  }

  bool group_norm_;
  ConvLayer stem_;
  NormLayer stem_norm_;
  std::vector<Block> blocks_;
  LinearLayer classifier_;
};

}  // namespace

std::unique_ptr<Model> make_resnet18(const ModelConfig& cfg, bool group_norm) {
  return std::make_unique<ResNet18>(cfg, group_norm);
}

}  // namespace sp::models
