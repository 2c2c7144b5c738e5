// The DDPM UNet (see ddpm_unet.h).
#include "nn/models/ddpm_unet.h"

#include <algorithm>
#include <cmath>

#include "nn/models/layer_builder.h"
#include "nn/ops_dropout.h"
#include "nn/ops_elementwise.h"
#include "nn/ops_embedding.h"
#include "nn/ops_loss.h"
#include "nn/ops_matmul.h"
#include "nn/ops_scale.h"
#include "nn/ops_shape.h"

namespace sp::models {

UNetConfig UNetConfig::ddpm_cifar10() {
  UNetConfig c;
  c.ch = 128;
  c.ch_mult = {1, 2, 2, 2};
  c.num_res_blocks = 2;
  c.attn_resolutions = {16};
  c.dropout = 0.1;
  return c;
}

namespace {

constexpr double kNormEps = 1e-6;  // DDPM's GroupNorm epsilon (§7.1)

struct ResBlock {
  NormLayer norm1, norm2;
  ConvLayer conv1, conv2, nin;  // nin invalid when in == out
  LinearLayer temb_proj;
  bool has_nin = false;
};

struct AttnBlock {
  NormLayer norm;
  ConvLayer q, k, v, proj_out;
};

struct Level {
  std::vector<ResBlock> blocks;
  std::vector<AttnBlock> attn;  // empty, or one per block
  ConvLayer resample;           // down: stride-2 conv; up: conv after the nearest upsampling
  bool has_resample = false;
};

class DdpmUNet final : public Denoiser {
 public:
  explicit DdpmUNet(const UNetConfig& cfg) : cfg_(cfg), layers_(name_) {
    check(cfg);
    const int64_t ch = cfg.ch, tdim = 4 * ch, levels = int64_t(cfg.ch_mult.size());
    const WeightInit tf = WeightInit::fan_avg(1.0), zero = WeightInit::fan_avg(0.0);
    dense0_ = layers_.add_linear("temb.dense.0", ch, tdim, tf);
    dense1_ = layers_.add_linear("temb.dense.1", tdim, tdim, tf);
    if (cfg.num_classes > 0) label_emb_ = layers_.add_embedding("label_emb", cfg.num_classes + 1, tdim);
    conv_in_ = layers_.add_conv("conv_in", cfg.channels, ch, 3, 1, 1, true, tf);

    // Encoder: the widths of the skip stack as they are pushed.
    std::vector<int64_t> skip{ch};
    int64_t width = ch, res = cfg.image_size;
    for (int64_t i = 0; i < levels; ++i) {
      Level l;
      const std::string p = "down." + std::to_string(i);
      const int64_t out = ch * cfg.ch_mult[size_t(i)];
      for (int64_t j = 0; j < cfg.num_res_blocks; ++j) {
        l.blocks.push_back(res_block(p + ".block." + std::to_string(j), width, out, tdim));
        width = out;
        if (attends(res)) l.attn.push_back(attn_block(p + ".attn." + std::to_string(j), width));
        skip.push_back(width);
      }
      if (i + 1 < levels) {
        l.resample = layers_.add_conv(p + ".downsample.conv", width, width, 3, 2, 0, true, tf);
        l.has_resample = true;
        skip.push_back(width);
        res /= 2;
      }
      down_.push_back(std::move(l));
    }
    mid1_ = res_block("mid.block_1", width, width, tdim);
    mid_attn_ = attn_block("mid.attn_1", width);
    mid2_ = res_block("mid.block_2", width, width, tdim);
    // Decoder, deepest level first; stored in that order, named by level as the port names them.
    for (int64_t i = levels - 1; i >= 0; --i) {
      Level l;
      const std::string p = "up." + std::to_string(i);
      const int64_t out = ch * cfg.ch_mult[size_t(i)];
      for (int64_t j = 0; j <= cfg.num_res_blocks; ++j) {
        const int64_t in = width + skip.back();
        skip.pop_back();
        l.blocks.push_back(res_block(p + ".block." + std::to_string(j), in, out, tdim));
        width = out;
        if (attends(res)) l.attn.push_back(attn_block(p + ".attn." + std::to_string(j), width));
      }
      if (i > 0) {
        l.resample = layers_.add_conv(p + ".upsample.conv", width, width, 3, 1, 1, true, tf);
        l.has_resample = true;
        res *= 2;
      }
      up_.push_back(std::move(l));
    }
    norm_out_ = layers_.add_group_norm("norm_out", width, cfg.norm_groups, kNormEps);
    conv_out_ = layers_.add_conv("conv_out", width, cfg.channels, 3, 1, 1, true, zero);
  }

  const std::string& name() const override { return name_; }
  const ParamLayout& params() const override { return layers_.params(); }
  const ParamLayout& buffers() const override { return layers_.buffers(); }
  const UNetConfig& config() const override { return cfg_; }
  void init(Stream& s, const Tensor& theta, const Tensor& buffers, uint64_t seed) const override {
    layers_.init(s, theta, buffers, seed);
  }

  Var denoise(Tape& t, Var theta, Var x, const DenoiseArgs& a) const override {
    layers_.check_theta_and_buffers(t, theta, Tensor());
    const Tensor xv = t.value(x), th = t.value(theta);  // handles: later ops may move the tape's values
    SP_CHECK(xv.dim() == 4 && xv.size(1) == cfg_.channels && xv.size(2) == cfg_.image_size &&
                 xv.size(3) == cfg_.image_size && xv.dtype() == th.dtype() && xv.device() == th.device(),
             name_, ": input ", xv.str(), " must be [N, ", cfg_.channels, ", ", cfg_.image_size, ", ", cfg_.image_size,
             "] like theta ", th.str());
    const int64_t n = xv.size(0);
    SP_CHECK(int64_t(a.t.size()) == n, name_, ": ", a.t.size(), " timesteps for ", n, " images");
    for (double v : a.t) SP_CHECK(std::isfinite(v) && v >= 0, name_, ": timestep ", v, " is not a finite t >= 0");
    if (cfg_.num_classes > 0) {
      SP_CHECK(int64_t(a.labels.size()) == n, name_, ": ", a.labels.size(), " labels for ", n, " images");
      for (int64_t y : a.labels)
        SP_CHECK(y >= 0 && y <= cfg_.num_classes, name_, ": label ", y, " is outside [0, ", cfg_.num_classes,
                 "] (", cfg_.num_classes, " is the null class)");
    } else {
      SP_CHECK(a.labels.empty(), name_, ": an unconditional UNet takes no labels (got ", a.labels.size(), ")");
    }
    Site site{a, 0};

    Var temb = t.leaf(timestep_embedding(t.stream(), a.t, th));
    temb = layers_.linear(t, theta, dense1_, ag::silu(t, layers_.linear(t, theta, dense0_, temb)));
    if (cfg_.num_classes > 0)
      temb = ag::add(t, temb, ag::embedding(t, t.view(theta, label_emb_.offset, label_emb_.shape), a.labels));
    Var temb_act = ag::silu(t, temb);  // every block projects SiLU(temb)

    std::vector<Var> hs{layers_.conv(t, theta, conv_in_, x)};
    for (const Level& l : down_) {
      for (size_t j = 0; j < l.blocks.size(); ++j) {
        Var h = res(t, theta, l.blocks[j], hs.back(), temb_act, site);
        if (!l.attn.empty()) h = attention(t, theta, l.attn[j], h);
        hs.push_back(h);
      }
      if (l.has_resample) hs.push_back(downsample(t, theta, l.resample, hs.back()));
    }
    Var h = res(t, theta, mid1_, hs.back(), temb_act, site);
    h = attention(t, theta, mid_attn_, h);
    h = res(t, theta, mid2_, h, temb_act, site);
    for (const Level& l : up_) {
      for (size_t j = 0; j < l.blocks.size(); ++j) {
        h = res(t, theta, l.blocks[j], ag::concat(t, {h, hs.back()}, 1), temb_act, site);
        hs.pop_back();
        if (!l.attn.empty()) h = attention(t, theta, l.attn[j], h);
      }
      if (l.has_resample) h = layers_.conv(t, theta, l.resample, ag::upsample_nearest(t, h, 2, 2));
    }
    h = ag::silu(t, layers_.norm(t, theta, Tensor(), norm_out_, h, true));
    return layers_.conv(t, theta, conv_out_, h);
  }

 private:
  // The dropout sites of one forward pass are numbered in call order, each with its own mask stream.
  struct Site {
    const DenoiseArgs& a;
    uint64_t next;
  };

  void check(const UNetConfig& c) const {
    SP_CHECK(c.ch >= 4 && c.ch % 2 == 0, name_, ": unet.ch ", c.ch, " must be even and at least 4");
    SP_CHECK(!c.ch_mult.empty() && c.ch_mult.size() <= 6, name_, ": unet.ch_mult needs 1 to 6 levels, got ",
             c.ch_mult.size());
    for (int64_t m : c.ch_mult) SP_CHECK(m >= 1 && m <= 16, name_, ": unet.ch_mult entry ", m, " is outside [1, 16]");
    SP_CHECK(c.num_res_blocks >= 1 && c.num_res_blocks <= 8, name_, ": unet.num_res_blocks ", c.num_res_blocks,
             " is outside [1, 8]");
    SP_CHECK(c.dropout >= 0 && c.dropout < 1, name_, ": unet.dropout ", c.dropout, " is outside [0, 1)");
    SP_CHECK(c.norm_groups >= 1, name_, ": unet.norm_groups ", c.norm_groups, " must be positive");
    for (int64_t m : c.ch_mult)
      SP_CHECK((c.ch * m) % c.norm_groups == 0 && c.ch % c.norm_groups == 0, name_, ": unet.norm_groups ",
               c.norm_groups, " does not divide the width ", c.ch * m, " (unet.ch ", c.ch, " x ", m, ")");
    const int64_t div = int64_t(1) << (c.ch_mult.size() - 1);
    SP_CHECK(c.image_size >= div && c.image_size % div == 0, name_, ": the image size ", c.image_size,
             " must be divisible by 2^(levels - 1) = ", div, " (unet.ch_mult has ", c.ch_mult.size(), " levels)");
    SP_CHECK(c.channels >= 1, name_, ": ", c.channels, " image channels");
    SP_CHECK(c.num_classes >= 0, name_, ": ", c.num_classes, " classes");
    for (int64_t r : c.attn_resolutions) {
      bool reached = false;
      for (size_t i = 0; i < c.ch_mult.size(); ++i) reached |= (c.image_size >> i) == r;
      SP_CHECK(reached, name_, ": unet.attn_resolutions entry ", r, " is not one of the UNet's resolutions (",
               c.image_size, " halved per level)");
    }
  }

  bool attends(int64_t res) const {
    return std::find(cfg_.attn_resolutions.begin(), cfg_.attn_resolutions.end(), res) != cfg_.attn_resolutions.end();
  }

  ResBlock res_block(const std::string& p, int64_t in, int64_t out, int64_t tdim) {
    const WeightInit tf = WeightInit::fan_avg(1.0);
    ResBlock b;
    b.norm1 = layers_.add_group_norm(p + ".norm1", in, cfg_.norm_groups, kNormEps);
    b.conv1 = layers_.add_conv(p + ".conv1", in, out, 3, 1, 1, true, tf);
    b.temb_proj = layers_.add_linear(p + ".temb_proj", tdim, out, tf);
    b.norm2 = layers_.add_group_norm(p + ".norm2", out, cfg_.norm_groups, kNormEps);
    b.conv2 = layers_.add_conv(p + ".conv2", out, out, 3, 1, 1, true, WeightInit::fan_avg(0.0));
    if (in != out) {
      b.nin = layers_.add_conv(p + ".nin_shortcut", in, out, 1, 1, 0, true, tf);
      b.has_nin = true;
    }
    return b;
  }

  AttnBlock attn_block(const std::string& p, int64_t c) {
    const WeightInit tf = WeightInit::fan_avg(1.0);
    AttnBlock a;
    a.norm = layers_.add_group_norm(p + ".norm", c, cfg_.norm_groups, kNormEps);
    a.q = layers_.add_conv(p + ".q", c, c, 1, 1, 0, true, tf);
    a.k = layers_.add_conv(p + ".k", c, c, 1, 1, 0, true, tf);
    a.v = layers_.add_conv(p + ".v", c, c, 1, 1, 0, true, tf);
    a.proj_out = layers_.add_conv(p + ".proj_out", c, c, 1, 1, 0, true, WeightInit::fan_avg(0.0));
    return a;
  }

  Var res(Tape& t, Var theta, const ResBlock& b, Var x, Var temb_act, Site& site) const {
    Var h = layers_.conv(t, theta, b.conv1, ag::silu(t, layers_.norm(t, theta, Tensor(), b.norm1, x, true)));
    Var proj = layers_.linear(t, theta, b.temb_proj, temb_act);
    const Shape ps = t.value(proj).shape();
    h = ag::add(t, h, t.reshape(proj, {ps[0], ps[1], 1, 1}));  // broadcast over the pixels
    h = ag::silu(t, layers_.norm(t, theta, Tensor(), b.norm2, h, true));
    const uint64_t stream = site.a.dropout_stream * 4096 + site.next++;
    if (site.a.training && cfg_.dropout > 0) h = ag::dropout(t, h, cfg_.dropout, site.a.dropout_key, stream);
    h = layers_.conv(t, theta, b.conv2, h);
    return ag::add(t, b.has_nin ? layers_.conv(t, theta, b.nin, x) : x, h);
  }

  // Single-head self-attention over the H*W positions: x + proj_out(v softmax(q^T k / sqrt(C))^T).
  Var attention(Tape& t, Var theta, const AttnBlock& a, Var x) const {
    const Shape s = t.value(x).shape();
    const int64_t n = s[0], c = s[1], hw = s[2] * s[3];
    Var h = layers_.norm(t, theta, Tensor(), a.norm, x, true);
    Var q = t.reshape(layers_.conv(t, theta, a.q, h), {n, c, hw});
    Var k = t.reshape(layers_.conv(t, theta, a.k, h), {n, c, hw});
    Var v = t.reshape(layers_.conv(t, theta, a.v, h), {n, c, hw});
    Var w = ag::scale(t, ag::matmul(t, q, k, true, false), 1.0 / std::sqrt(double(c)));  // [n, hw_i, hw_j]
    w = ag::softmax(t, w);                                                              // over j
    Var o = t.reshape(ag::matmul(t, v, w, false, true), s);                              // [n, c, hw_i]
    return ag::add(t, x, layers_.conv(t, theta, a.proj_out, o));
  }

  // DDPM's downsampling: zero padding on the right and bottom only, then a 3x3 stride-2 conv without padding.
  Var downsample(Tape& t, Var theta, const ConvLayer& conv, Var x) const {
    const Tensor xv = t.value(x);
    const Shape s = xv.shape();
    Var col = t.leaf(Tensor::zeros({s[0], s[1], s[2], 1}, xv.dtype(), t.stream()));
    Var padded = ag::concat(t, {x, col}, 3);
    Var row = t.leaf(Tensor::zeros({s[0], s[1], 1, s[3] + 1}, xv.dtype(), t.stream()));
    return layers_.conv(t, theta, conv, ag::concat(t, {padded, row}, 2));
  }

  // [N, ch]: sin(t f_k) then cos(t f_k), f_k = exp(-k ln(10000) / (half - 1)), k < half = ch / 2 (§7.1), in theta's
  // dtype on its device.
  Tensor timestep_embedding(Stream& s, const std::vector<double>& steps, const Tensor& like) const {
    const int64_t n = int64_t(steps.size()), half = cfg_.ch / 2;
    std::vector<double> v(static_cast<size_t>(n * cfg_.ch));
    for (int64_t i = 0; i < n; ++i)
      for (int64_t k = 0; k < half; ++k) {
        const double a = steps[size_t(i)] * std::exp(-double(k) * std::log(10000.0) / double(half - 1));
        v[size_t(i * cfg_.ch + k)] = std::sin(a);
        v[size_t(i * cfg_.ch + half + k)] = std::cos(a);
      }
    return Tensor::from_vector(v, {n, cfg_.ch}).to(like.dtype()).to(like.device(), s);
  }

  std::string name_ = "ddpm_unet";
  UNetConfig cfg_;
  LayerBuilder layers_;
  LinearLayer dense0_, dense1_;
  Slot label_emb_;
  ConvLayer conv_in_, conv_out_;
  std::vector<Level> down_, up_;
  ResBlock mid1_, mid2_;
  AttnBlock mid_attn_;
  NormLayer norm_out_;
};

}  // namespace

std::unique_ptr<Denoiser> make_ddpm_unet(const UNetConfig& cfg) { return std::make_unique<DdpmUNet>(cfg); }

}  // namespace sp::models
