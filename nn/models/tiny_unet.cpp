// The small UNet denoiser (see tiny_unet.h).
#include "nn/models/tiny_unet.h"

#include <cmath>
#include <numeric>

#include "nn/models/layer_builder.h"
#include "nn/ops_elementwise.h"
#include "nn/ops_norm.h"
#include "nn/ops_shape.h"

namespace sp::models {
namespace {

// Group norm -> SiLU -> 3x3 conv, plus the time embedding projected to the conv's channels.
struct Block {
  NormLayer norm;
  ConvLayer conv;
  LinearLayer time;
};

class TinyUNet final : public Denoiser {
 public:
  explicit TinyUNet(const UNetConfig& cfg) : cfg_(cfg), layers_(name_) {
    SP_CHECK(cfg.width >= 4 && cfg.width % 4 == 0, name_, ": width ", cfg.width, " must be a positive multiple of 4");
    SP_CHECK(cfg.image_size >= 2 && cfg.image_size % 2 == 0 && cfg.channels >= 1, name_, ": image_size ",
             cfg.image_size, " must be even and channels ", cfg.channels, " >= 1");
    const int64_t w = cfg.width, tdim = 4 * w;
    time1_ = layers_.add_linear("time_mlp.0", w, tdim);
    time2_ = layers_.add_linear("time_mlp.2", tdim, tdim);
    inc_ = layers_.add_conv("inc", cfg.channels, w, 3, 1, 1, true);
    down_ = block("down", w, 2 * w, 2, tdim);
    mid_ = block("mid", 2 * w, 2 * w, 1, tdim);
    up_ = block("up", 3 * w, w, 1, tdim);  // upsampled middle (2w) concatenated with the skip (w)
    out_norm_ = layers_.add_group_norm("out.norm", w, std::gcd(int64_t(8), w));
    out_conv_ = layers_.add_conv("out.conv", w, cfg.channels, 3, 1, 1, true);
  }

  const std::string& name() const override { return name_; }
  const ParamLayout& params() const override { return layers_.params(); }
  const ParamLayout& buffers() const override { return layers_.buffers(); }
  void init(Stream& s, const Tensor& theta, const Tensor& buffers, uint64_t seed) const override {
    layers_.init(s, theta, buffers, seed);
  }

  Var denoise(Tape& t, Var theta, const Tensor& buffers, Var x, const std::vector<int64_t>& timesteps,
              bool training) const override {
    layers_.check_theta_and_buffers(t, theta, buffers);
    const Tensor xv = t.value(x), th = t.value(theta);  // handles: later ops may move the tape's values
    SP_CHECK(xv.dim() == 4 && xv.size(1) == cfg_.channels && xv.size(2) == cfg_.image_size &&
                 xv.size(3) == cfg_.image_size && xv.dtype() == th.dtype(),
             name_, ": input ", xv.str(), " must be [N, ", cfg_.channels, ", ", cfg_.image_size, ", ",
             cfg_.image_size, "] like theta ", th.str());
    SP_CHECK(int64_t(timesteps.size()) == xv.size(0), name_, ": ", timesteps.size(), " timesteps for ", xv.size(0),
             " images");
    Var emb = t.leaf(sinusoidal(t.stream(), timesteps, th));
    emb = layers_.linear(t, theta, time2_, ag::silu(t, layers_.linear(t, theta, time1_, emb)));
    Var skip = layers_.conv(t, theta, inc_, x);
    Var h = apply(t, theta, buffers, down_, skip, emb, training);
    h = apply(t, theta, buffers, mid_, h, emb, training);
    h = ag::concat(t, {ag::upsample_nearest(t, h, 2, 2), skip}, 1);
    h = apply(t, theta, buffers, up_, h, emb, training);
    h = ag::silu(t, layers_.norm(t, theta, buffers, out_norm_, h, training));
    return layers_.conv(t, theta, out_conv_, h);
  }

 private:
  Block block(const std::string& name, int64_t in, int64_t out, int64_t stride, int64_t tdim) {
    Block b;
    b.norm = layers_.add_group_norm(name + ".norm", in, std::gcd(int64_t(8), in));
    b.conv = layers_.add_conv(name + ".conv", in, out, 3, stride, 1, true);
    b.time = layers_.add_linear(name + ".time", tdim, out);
    return b;
  }

  Var apply(Tape& t, Var theta, const Tensor& buffers, const Block& b, Var x, Var emb, bool training) const {
    Var h = layers_.conv(t, theta, b.conv, ag::silu(t, layers_.norm(t, theta, buffers, b.norm, x, training)));
    Var shift = layers_.linear(t, theta, b.time, ag::silu(t, emb));
    const Shape s = t.value(shift).shape();
    return ag::add(t, h, t.reshape(shift, {s[0], s[1], 1, 1}));  // broadcast over the pixels
  }

  // [N, width]: sin and cos of t / 10000^(i / (width/2)), the transformer's position encoding, in theta's
  // dtype on theta's device.
  Tensor sinusoidal(Stream& s, const std::vector<int64_t>& steps, const Tensor& like) const {
    const int64_t n = int64_t(steps.size()), half = cfg_.width / 2;
    std::vector<double> v(size_t(n * cfg_.width));
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < half; ++j) {
        const double a = double(steps[size_t(i)]) * std::pow(10000.0, -double(j) / double(half));
        v[size_t(i * cfg_.width + j)] = std::sin(a);
        v[size_t(i * cfg_.width + half + j)] = std::cos(a);
      }
    return Tensor::from_vector(v, {n, cfg_.width}).to(like.dtype()).to(like.device(), s);
  }

  std::string name_ = "tiny_unet";
  UNetConfig cfg_;
  LayerBuilder layers_;
  LinearLayer time1_, time2_;
  ConvLayer inc_, out_conv_;
  Block down_, mid_, up_;
  NormLayer out_norm_;
};

}  // namespace

std::unique_ptr<Denoiser> make_tiny_unet(const UNetConfig& cfg) { return std::make_unique<TinyUNet>(cfg); }

}  // namespace sp::models
