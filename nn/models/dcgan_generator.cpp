// The Fast DFKD generator (see dcgan_generator.h), built on LayerBuilder like the classifiers.
#include "nn/models/dcgan_generator.h"

#include "nn/models/layer_builder.h"
#include "nn/ops_elementwise.h"
#include "nn/ops_shape.h"

namespace sp::models {
namespace {

class DcganGenerator final : public Network {
 public:
  explicit DcganGenerator(const GeneratorConfig& cfg) : cfg_(cfg), layers_(name_) {
    SP_CHECK(cfg.latent >= 1 && cfg.width >= 1 && cfg.channels >= 1, name_, ": latent ", cfg.latent, ", width ",
             cfg.width, " and channels ", cfg.channels, " must be >= 1");
    SP_CHECK(cfg.image_size >= 4 && cfg.image_size % 4 == 0, name_, ": image_size ", cfg.image_size,
             " must be a positive multiple of 4 (two 2x upsamplings)");
    const int64_t w2 = 2 * cfg.width;
    init_size_ = cfg.image_size / 4;
    project_ = layers_.add_linear("l1.0", cfg.latent, w2 * init_size_ * init_size_);
    norm0_ = layers_.add_batch_norm("conv_blocks.0", w2);
    conv1_ = layers_.add_conv("conv_blocks.2", w2, w2, 3, 1, 1, false);
    norm1_ = layers_.add_batch_norm("conv_blocks.3", w2);
    conv2_ = layers_.add_conv("conv_blocks.6", w2, cfg.width, 3, 1, 1, false);
    norm2_ = layers_.add_batch_norm("conv_blocks.7", cfg.width);
    out_ = layers_.add_conv("conv_blocks.9", cfg.width, cfg.channels, 3, 1, 1, true);
  }

  const std::string& name() const override { return name_; }
  const ParamLayout& params() const override { return layers_.params(); }
  const ParamLayout& buffers() const override { return layers_.buffers(); }
  void init(Stream& s, const Tensor& theta, const Tensor& buffers, uint64_t seed) const override {
    layers_.init(s, theta, buffers, seed);
  }

  Var forward(Tape& t, Var theta, const Tensor& buffers, Var z, bool training) const override {
    layers_.check_theta_and_buffers(t, theta, buffers);
    const Tensor zv = t.value(z);  // a handle: later ops may move the tape's values
    SP_CHECK(zv.dim() == 2 && zv.size(1) == cfg_.latent, name_, ": latent input ", zv.str(), " must be [N, ",
             cfg_.latent, "]");
    Var h = layers_.linear(t, theta, project_, z);
    h = t.reshape(h, {zv.size(0), 2 * cfg_.width, init_size_, init_size_});
    h = layers_.norm(t, theta, buffers, norm0_, h, training);
    h = layers_.conv(t, theta, conv1_, ag::upsample_nearest(t, h, 2, 2));
    h = ag::leaky_relu(t, layers_.norm(t, theta, buffers, norm1_, h, training), 0.2);
    h = layers_.conv(t, theta, conv2_, ag::upsample_nearest(t, h, 2, 2));
    h = ag::leaky_relu(t, layers_.norm(t, theta, buffers, norm2_, h, training), 0.2);
    return ag::sigmoid(t, layers_.conv(t, theta, out_, h));
  }

 private:
  std::string name_ = "dcgan_generator";
  GeneratorConfig cfg_;
  LayerBuilder layers_;
  int64_t init_size_ = 0;
  LinearLayer project_;
  NormLayer norm0_, norm1_, norm2_;
  ConvLayer conv1_, conv2_, out_;
};

}  // namespace

std::unique_ptr<Network> make_dcgan_generator(const GeneratorConfig& cfg) {
  return std::make_unique<DcganGenerator>(cfg);
}

}  // namespace sp::models
