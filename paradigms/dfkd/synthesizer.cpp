// Generator training through the frozen teacher (see synthesizer.h).
#include "paradigms/dfkd/synthesizer.h"

#include <cmath>
#include <limits>

#include "kernels/axpby.h"
#include "kernels/counter_rng.h"
#include "kernels/metrics_math.h"
#include "nn/layer_trace.h"
#include "nn/models/dcgan_generator.h"
#include "nn/ops_augment.h"
#include "nn/ops_elementwise.h"
#include "nn/ops_loss.h"
#include "nn/ops_reduce.h"
#include "nn/ops_scale.h"

namespace sp::dfkd {

namespace {

// Purposes of the (seed, epoch) random streams.
enum Purpose : uint64_t { kLatent = 1, kTargets = 2, kReset = 3, kAugment = 16 };

uint64_t epoch_key(uint64_t seed, int epoch) { return crng::derive_key(seed, 0xDF4Dull << 32 | uint64_t(epoch)); }

// n standard normal values (Box-Muller on 53-bit uniforms) from one stream.
std::vector<float> normals(uint64_t key, uint64_t id, int64_t n, double stddev = 1) {
  crng::Stream32 r(key, id);
  std::vector<float> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; i += 2) {
    const double u1 = 1.0 - r.uniform_d(), u2 = r.uniform_d();  // u1 in (0, 1]
    const double rad = std::sqrt(-2.0 * std::log(u1)) * stddev, a = 2.0 * M_PI * u2;
    v[size_t(i)] = float(rad * std::cos(a));
    if (i + 1 < n) v[size_t(i + 1)] = float(rad * std::sin(a));
  }
  return v;
}

std::unique_ptr<Optimizer> adam(const Tensor& params, Stream& s) {
  OptimConfig oc;
  oc.kind = OptimKind::adam;
  oc.beta1 = 0.5;
  oc.beta2 = 0.999;
  return make_optimizer(oc, params, s);
}

Tensor channel_tensor(const std::vector<double>& v, bool invert, Stream& s) {
  std::vector<float> f;
  for (double x : v) f.push_back(float(invert ? 1.0 / x : x));
  return Tensor::from_vector(f, {1, int64_t(f.size()), 1, 1}).to(s.device(), s);
}

}  // namespace

Synthesizer::Synthesizer(const DfkdConfig& c, FrozenModel teacher, int64_t classes, const Shape& image,
                         const data::Normalization& norm, Stream& s, uint64_t seed)
    : c_(c), teacher_(teacher), classes_(classes), image_(image), s_(s), seed_(seed) {
  SP_CHECK(image.size() == 3 && image[1] == image[2] && image[1] % 4 == 0, "dfkd: the generator makes square images "
           "whose side is a multiple of 4; the dataset's are ", image[0], "x", image[1], "x", image[2]);
  models::GeneratorConfig gc;
  gc.latent = c.latent;
  gc.width = c.width;
  gc.image_size = image[1];
  gc.channels = image[0];
  gen_ = models::make_dcgan_generator(gc);
  theta_ = Tensor::empty({gen_->params().numel()}, DType::f32, s);
  buffers_ = Tensor::empty({gen_->buffers().numel()}, DType::f32, s);
  gen_->init(s, theta_, buffers_, crng::derive_key(seed, 0x6E4E));
  gen_opt_ = adam(theta_, s);
  mean_ = channel_tensor(norm.mean, false, s);
  inv_std_ = channel_tensor(norm.std, true, s);
}

void Synthesizer::reset_first_layer() {
  const uint64_t key = crng::derive_key(seed_, kReset);
  uint64_t id = 0;
  for (const char* layer : {"l1.0", "conv_blocks.0"}) {
    Tensor w = gen_->params().view(theta_, std::string(layer) + ".weight");
    w.copy_(Tensor::from_vector(normals(key, id++, w.numel(), 0.02), w.shape()), s_);
    gen_->params().view(theta_, std::string(layer) + ".bias").zero_(s_);
  }
}

SynthesisResult Synthesizer::synthesize(int epoch, const FrozenModel& student) {
  const SynthesisConfig& y = c_.synthesis;
  const int64_t B = y.batch, C = image_[0], H = image_[1], W = image_[2];
  const bool adv = y.adv_weight > 0 && epoch >= c_.warmup;
  SP_CHECK(!adv || student.model, "dfkd synthesis: the adversarial term needs the student");
  // Upstream counts calls from 1 and resets when the count reaches warmup + reset epochs.
  if (y.meta && y.reset_epoch > 0 && epoch + 1 == c_.warmup + y.reset_epoch) reset_first_layer();

  const uint64_t key = epoch_key(seed_, epoch);
  Tensor z = Tensor::from_vector(normals(key, kLatent, B * c_.latent), {B, c_.latent}).to(s_.device(), s_);
  std::vector<int64_t> targets(static_cast<size_t>(B));
  {
    crng::Stream32 r(key, kTargets);
    for (int64_t& v : targets) v = int64_t(r.below(uint32_t(classes_)));
  }
  Tensor target_dev = Tensor::from_vector(targets, {B}).to(s_.device(), s_);

  // bn: the generator itself; fast: a copy of the meta-generator with its own Adam.
  Tensor th = y.meta ? theta_.clone(s_) : theta_;
  Tensor buf = y.meta ? buffers_.clone(s_) : buffers_;
  std::unique_ptr<Optimizer> fast_opt = y.meta ? adam(th, s_) : nullptr;
  Optimizer& g_opt = y.meta ? *fast_opt : *gen_opt_;
  std::unique_ptr<Optimizer> z_opt = adam(z, s_);
  Tensor meta_grad = y.meta ? Tensor::zeros(theta_.shape(), DType::f32, s_) : Tensor();

  SynthesisResult res;
  res.best_loss = std::numeric_limits<double>::infinity();
  Tensor best;
  BnStatistics last;
  for (int64_t it = 0; it < y.g_steps; ++it) {
    // RandomCrop(pad, zero fill) + horizontal flip, per image, as integer shifts.
    std::vector<int32_t> p(static_cast<size_t>(3 * B));
    crng::Stream32 r(key, kAugment + uint64_t(it));
    for (int64_t i = 0; i < B; ++i) {
      p[size_t(3 * i)] = int32_t(r.below(uint32_t(2 * y.crop_pad + 1))) - y.crop_pad;
      p[size_t(3 * i + 1)] = int32_t(r.below(uint32_t(2 * y.crop_pad + 1))) - y.crop_pad;
      p[size_t(3 * i + 2)] = y.flip ? int32_t(r.below(2)) : 0;
    }
    Tensor params = Tensor::from_vector(p, {B, 3}).to(s_.device(), s_);

    Tape t(s_);
    Var thv = t.leaf(th, true), zv = t.leaf(z, true);
    Var x = gen_->forward(t, thv, buf, zv, true);
    Var xa = ag::mul(t, ag::sub(t, ag::remap(t, x, params), t.leaf(mean_)), t.leaf(inv_std_));
    Var logits, bn;
    BnStatistics stats;
    {
      LayerTrace trace;
      logits = teacher_.model->forward(t, t.leaf(teacher_.theta), teacher_.buffers, xa, false);
      bn = bn_statistics_loss(t, trace, *teacher_.model, teacher_.buffers, momentum_.empty() ? nullptr : &momentum_,
                              y.bn_momentum, &stats);
    }
    Var loss = ag::scale(t, bn, y.bn_weight);
    if (y.oh_weight > 0) loss = ag::add(t, loss, ag::scale(t, ag::cross_entropy(t, logits, target_dev), y.oh_weight));
    if (adv) {
      // Fast's L_adv = -mean_i(mask_i * KL(p_teacher,i || p_student,i)), mask_i = the two agree on the argmax.
      Var sl = student.model->forward(t, t.leaf(student.theta), student.buffers, xa, false);
      std::vector<float> tz = t.value(logits).to(DType::f32, s_).to_vector<float>(s_);
      std::vector<float> sz = t.value(sl).to(DType::f32, s_).to_vector<float>(s_);
      const int64_t K = t.value(logits).size(1);
      std::vector<float> mask(static_cast<size_t>(B));
      for (int64_t i = 0; i < B; ++i)
        mask[size_t(i)] = row_argmax(&tz[size_t(i * K)], K) == row_argmax(&sz[size_t(i * K)], K) ? 1.0f : 0.0f;
      Var lpt = ag::log_softmax(t, logits), lqs = ag::log_softmax(t, sl);
      Var kl = ag::sum(t, ag::mul(t, ag::exp(t, lpt), ag::sub(t, lpt, lqs)), {1});
      Var m = t.leaf(Tensor::from_vector(mask, {B}).to(s_.device(), s_));
      Var l_adv = ag::scale(t, ag::sum(t, ag::mul(t, kl, m)), -1.0 / double(B));
      loss = ag::add(t, loss, ag::scale(t, l_adv, y.adv_weight));
    }
    const double lv = t.value(loss).to(DType::f64, s_).to_vector<double>(s_)[0];
    SP_CHECK(std::isfinite(lv), "dfkd synthesis: the loss is ", lv, " at epoch ", epoch + 1, " iteration ", it + 1);
    if (lv < res.best_loss) {
      res.best_loss = lv;
      res.bn_loss = t.value(bn).to(DType::f64, s_).to_vector<double>(s_)[0];
      best = t.value(x).clone(s_);
    }
    std::vector<Tensor> g = t.grad(loss, {thv, zv});
    if (y.meta) {
      axpby(s_, meta_grad, g[0], 1, 1);  // first-order MAML: the copy's gradients, summed over iterations
      if (it + 1 == y.g_steps) gen_opt_->step(s_, theta_, meta_grad, y.lr_g * double(y.g_steps));
    }
    g_opt.step(s_, th, g[0], y.lr_g);
    z_opt->step(s_, z, g[1], y.lr_z);
    if (it + 1 == y.g_steps) last = std::move(stats);
  }
  update_bn_momentum(s_, momentum_, last, y.bn_momentum);

  // To 8 bits as torchvision's save_image does: floor(255 x + 0.5), clamped.
  std::vector<float> v = best.to(DType::f32, s_).to_vector<float>(s_);
  std::vector<uint8_t> u(v.size());
  for (size_t i = 0; i < v.size(); ++i) u[i] = uint8_t(std::clamp(std::floor(255.0f * v[i] + 0.5f), 0.0f, 255.0f));
  res.images = Tensor::from_vector(u, {B, C, H, W});
  return res;
}

std::map<std::string, Tensor> Synthesizer::state(const std::string& prefix) const {
  std::map<std::string, Tensor> st = gen_opt_->state(prefix + "opt.");
  st[prefix + "theta"] = theta_;
  st[prefix + "buffers"] = buffers_;
  for (size_t i = 0; i < momentum_.mean.size(); ++i) {
    st[prefix + "mmt.mean." + std::to_string(i)] = momentum_.mean[i];
    st[prefix + "mmt.var." + std::to_string(i)] = momentum_.var[i];
  }
  return st;
}

void Synthesizer::load_state(const std::map<std::string, Tensor>& st, const std::string& prefix) {
  auto get = [&](const std::string& k) -> const Tensor& {
    auto it = st.find(prefix + k);
    SP_CHECK(it != st.end(), "dfkd checkpoint: missing ", prefix + k);
    return it->second;
  };
  SP_CHECK(get("theta").numel() == theta_.numel() && get("buffers").numel() == buffers_.numel(),
           "dfkd checkpoint: the generator in it has another size");
  theta_.copy_(get("theta").to(DType::f32, s_).to(s_.device(), s_), s_);
  buffers_.copy_(get("buffers").to(DType::f32, s_).to(s_.device(), s_), s_);
  gen_opt_->load_state(st, prefix + "opt.", s_);
  momentum_ = BnStatistics{};
  for (size_t i = 0; st.count(prefix + "mmt.mean." + std::to_string(i)); ++i) {
    momentum_.mean.push_back(get("mmt.mean." + std::to_string(i)).to(DType::f32, s_).to(s_.device(), s_).clone(s_));
    momentum_.var.push_back(get("mmt.var." + std::to_string(i)).to(DType::f32, s_).to(s_.device(), s_).clone(s_));
  }
}

}  // namespace sp::dfkd
