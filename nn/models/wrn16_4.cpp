// WRN-16-4 with group normalisation, the DP-SGD workhorse (De et al. 2022 train it with GN instead of BN).
// Layout of the common PyTorch WideResNet definition (Zagoruyko & Komodakis; names as in the widely used
// xternalz/WideResNet-pytorch, BN swapped for GN under the same names):
//   conv1: 3x3, C_in -> w/4, no bias
//   block{1,2,3}.layer.{0,1}: pre-activation basic blocks with widths w, 2w, 4w and strides 1, 2, 2:
//     a = relu(bn1(x)); out = conv2(relu(bn2(conv1(a)))) (3x3 convs, no bias, conv1 carries the stride);
//     out += convShortcut(a) (1x1, stride, no bias) when the width or stride changes, else out += x
//   bn1 -> ReLU -> global average pool -> fc (linear)
// with every norm GroupNorm(gcd(16, C), C) (16 groups at the standard widths, as De et al.) and no dropout
// or weight standardisation. The config width w is 16k: the default w = 64 is the standard WRN-16-4 (stem 16,
// widths 64/128/256), 2,748,890 parameters for 10 classes; smaller w scales every layer (w must be a
// multiple of 4). Each norm and the ReLU after it run as one fused op (LayerBuilder::norm_act). Tested in
// tests/test_models.cpp (layout, parameter count, gradients), fused against unfused in
// tests/test_models_nhwc.cpp.
#include <numeric>
#include <string>
#include <vector>

#include "nn/models/model_base.h"
#include "nn/ops_conv.h"
#include "nn/ops_elementwise.h"

namespace sp::models {
namespace {

class Wrn16_4 final : public ModelBase {
 public:
  explicit Wrn16_4(const ModelConfig& cfg) : ModelBase(cfg) {
    check_config(cfg, 8);
    check_nchw_only(cfg);
    SP_CHECK(cfg.width % 4 == 0, cfg.name, ": width ", cfg.width, " must be a multiple of 4 (16k with k = 4)");
    const int64_t w = cfg.width;
    stem_ = layers_.add_conv("conv1", cfg.in_channels, w / 4, 3, 1, 1, false);
    int64_t in = w / 4;
    for (int group = 0; group < 3; ++group) {
      const int64_t out = w << group;
      for (int b = 0; b < 2; ++b) {
        const std::string p = "block" + std::to_string(group + 1) + ".layer." + std::to_string(b) + ".";
        const int64_t stride = (group > 0 && b == 0) ? 2 : 1;
        Block k;
        k.bn1 = add_gn(p + "bn1", in);
        k.conv1 = layers_.add_conv(p + "conv1", in, out, 3, stride, 1, false);
        k.bn2 = add_gn(p + "bn2", out);
        k.conv2 = layers_.add_conv(p + "conv2", out, out, 3, 1, 1, false);
        k.projection = stride != 1 || in != out;
        if (k.projection) k.shortcut = layers_.add_conv(p + "convShortcut", in, out, 1, stride, 0, false);
        blocks_.push_back(k);
        in = out;
      }
    }
    final_norm_ = add_gn("bn1", in);
    classifier_ = layers_.add_linear("fc", in, cfg.num_classes);
  }

  ModelOutputs forward_features(Tape& t, Var theta, const Tensor& buffers, Var x, bool training) const override {
    check_forward(t, theta, buffers, x);
    // norm then ReLU as one op (LayerBuilder::norm_act).
    auto norm_relu = [&](const NormLayer& n, Var in) {
      return layers_.norm_act(t, theta, buffers, n, in, training, Layout::nchw, {Var{}, true});
    };
    Var h = layers_.conv(t, theta, stem_, layers_.store(t, x));  // bf16: the batch as stored (layer_builder.h)
    for (const Block& b : blocks_) {
      Var a = norm_relu(b.bn1, h);
      Var o = norm_relu(b.bn2, layers_.conv(t, theta, b.conv1, a));
      o = layers_.conv(t, theta, b.conv2, o);
      h = layers_.store(t, ag::add(t, o, b.projection ? layers_.conv(t, theta, b.shortcut, a) : h));
    }
    h = norm_relu(final_norm_, h);
    Var f = layers_.store(t, ag::global_avg_pool(t, h));
    return {f, layers_.linear(t, theta, classifier_, f)};
  }

 private:
  struct Block {
    NormLayer bn1, bn2;
    ConvLayer conv1, conv2, shortcut;
    bool projection = false;
  };
  NormLayer add_gn(const std::string& name, int64_t channels) {
    return layers_.add_group_norm(name, channels, std::gcd(int64_t(16), channels));
  }

  ConvLayer stem_;
  std::vector<Block> blocks_;
  NormLayer final_norm_;
  LinearLayer classifier_;
};

}  // namespace

std::unique_ptr<Model> make_wrn16_4(const ModelConfig& cfg) { return std::make_unique<Wrn16_4>(cfg); }

}  // namespace sp::models
