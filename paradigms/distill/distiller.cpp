// DC / DSA / DM iterations (see distiller.h).
#include "paradigms/distill/distiller.h"

#include <algorithm>
#include <chrono>

#include "kernels/counter_rng.h"
#include "kernels/error.h"
#include "nn/matching_losses.h"
#include "nn/ops_loss.h"
#include "nn/ops_shape.h"
#include "paradigms/engine/training_source.h"

namespace sp::distill {

namespace {
// Purposes of the random streams, each keyed by the iteration.
constexpr uint64_t kPurposeNet = 0x44494e4554ULL;        // "DINET": network initialisation
constexpr uint64_t kPurposeReal = 0x444952454131ULL;     // "DIREA1": real batches
constexpr uint64_t kPurposeMatchAug = 0x4449415547ULL;   // "DIAUG": Siamese draws of the matching steps
constexpr uint64_t kPurposeInnerAug = 0x4449494155ULL;   // "DIIAU": per-sample draws of the inner epochs
constexpr uint64_t kPurposeInnerOrder = 0x44494f5244ULL;  // "DIORD": inner epoch orders

uint64_t iter_key(uint64_t key, uint64_t purpose, int64_t it) {
  return crng::derive_key(crng::derive_key(key, purpose), uint64_t(it));
}

Tensor class_labels(Stream& s, int64_t c, int64_t n) {
  return Tensor::full({n}, double(c), DType::i64, s);
}

Var augment(Tape& t, Var x, const std::vector<dsa::Group>& strategy, const dsa::DsaParams& p, bool on, uint64_t seed,
            uint64_t counter, bool siamese) {
  if (!on) return x;
  const Tensor& v = t.value(x);
  return dsa::apply(t, x, dsa::draw(strategy, p, v.size(0), v.size(2), v.size(3), seed, counter, siamese));
}
}  // namespace

Distiller::Distiller(const DistillConfig& cfg, const ClassPool& pool, Tensor images, uint64_t key, Stream& s)
    : cfg_(cfg), pool_(pool), net_(make_model(cfg.net)), images_(std::move(images)), key_(key), s_(s) {
  SP_CHECK(images_.dtype() == DType::f32 && images_.dim() == 4 && images_.size(0) == cfg.ipc * pool.classes(),
           "distiller: images must be f32 [", cfg.ipc * pool.classes(), ", C, H, W], got ", images_.str());
  OptimConfig oc;
  oc.kind = OptimKind::sgd;
  oc.momentum = cfg.momentum_img;
  opt_ = make_optimizer(oc, images_, s);
  grad_ = Tensor::zeros(images_.shape(), DType::f32, s);
}

std::vector<int64_t> Distiller::labels() const {
  std::vector<int64_t> y;
  for (int64_t c = 0; c < pool_.classes(); ++c) y.insert(y.end(), size_t(cfg_.ipc), c);
  return y;
}

void Distiller::fresh_network(Tensor& theta, Tensor& buffers) const {
  theta = Tensor::empty({net_->params().numel()}, DType::f32, s_);
  buffers = Tensor::zeros({net_->buffers().numel()}, DType::f32, s_);
  net_->init(s_, theta, buffers, iter_key(key_, kPurposeNet, iteration_));
}

double Distiller::step() {
  double loss = cfg_.matches_gradients() ? dc_iteration() : dm_iteration();
  ++iteration_;
  return loss;
}

double Distiller::dc_class(const Tensor& theta, const Tensor& buffers, int64_t ol, int64_t c, const Tensor& grad) {
  const uint64_t aug_seed = iter_key(key_, kPurposeMatchAug, iteration_);
  const uint64_t counter = uint64_t(ol * pool_.classes() + c);
  Tensor g_real;
  {
    Tensor xr = pool_.sample(s_, c, cfg_.batch_real, iter_key(key_, kPurposeReal, iteration_), counter);
    Tape t(s_);
    Var th = t.leaf(theta, true);
    Var x = augment(t, t.leaf(xr), cfg_.strategy, dsa_params_, cfg_.dsa, aug_seed, counter, true);
    Var loss = ag::cross_entropy(t, net_->forward(t, th, buffers, x, true), class_labels(s_, c, xr.size(0)));
    g_real = t.grad(loss, {th})[0];
  }
  Tape t(s_);
  Var th = t.leaf(theta, true);
  Var xs = t.leaf(images_.narrow(0, c * cfg_.ipc, cfg_.ipc), true);
  Var x = augment(t, xs, cfg_.strategy, dsa_params_, cfg_.dsa, aug_seed, counter, true);
  Var loss = ag::cross_entropy(t, net_->forward(t, th, buffers, x, true), class_labels(s_, c, cfg_.ipc));
  Var g_syn = t.grad_graph(loss, {th})[0];
  Var d = gradient_match_distance(t, net_->params(), g_syn, g_real);
  grad.narrow(0, c * cfg_.ipc, cfg_.ipc).copy_(t.grad(d, {xs})[0], s_);
  return t.value(d).to(DType::f64, s_).to_vector<double>(s_)[0];
}

double Distiller::dm_class(const Tensor& theta, const Tensor& buffers, int64_t c, const Tensor& grad) {
  const uint64_t aug_seed = iter_key(key_, kPurposeMatchAug, iteration_);
  const uint64_t counter = uint64_t(c);
  Tensor xr = pool_.sample(s_, c, cfg_.batch_real, iter_key(key_, kPurposeReal, iteration_), counter);
  Tape t(s_);
  Var th = t.leaf(theta);
  Var er = net_->forward_features(t, th, buffers, augment(t, t.leaf(xr), cfg_.strategy, dsa_params_, cfg_.dsa, aug_seed,
                                                           counter, true), true).features;
  Var xs = t.leaf(images_.narrow(0, c * cfg_.ipc, cfg_.ipc), true);
  Var es = net_->forward_features(t, th, buffers, augment(t, xs, cfg_.strategy, dsa_params_, cfg_.dsa, aug_seed,
                                                           counter, true), true).features;
  Var d = distribution_match_loss(t, t.leaf(t.value(er)), es);
  grad.narrow(0, c * cfg_.ipc, cfg_.ipc).copy_(t.grad(d, {xs})[0], s_);
  return t.value(d).to(DType::f64, s_).to_vector<double>(s_)[0];
}

void Distiller::inner_train(const Tensor& theta, const Tensor& buffers, int64_t ol) {
  OptimConfig oc;
  oc.kind = OptimKind::sgd;
  std::unique_ptr<Optimizer> opt = make_optimizer(oc, theta, s_);
  const int64_t n = images_.size(0), B = cfg_.batch_train;
  // A detached copy, as upstream trains on copy.deepcopy(image_syn.detach()); shuffled per inner epoch.
  ImageSetSource syn(s_, images_, Tensor::from_vector(labels(), {n}), iter_key(key_, kPurposeInnerOrder, iteration_));
  const uint64_t aug_seed = iter_key(key_, kPurposeInnerAug, iteration_);
  const bool aug = cfg_.method == Method::dsa;  // DC trains its inner network without augmentation
  for (int64_t e = 0; e < cfg_.inner_loop; ++e) {
    const int epoch = int(ol * cfg_.inner_loop + e);
    syn.begin_epoch(s_, epoch);
    for (int64_t lo = 0; lo < n; lo += B) {
      Batch b = syn.batch(s_, epoch, lo, std::min(n, lo + B));
      Tape t(s_);
      Var th = t.leaf(theta, true);
      const uint64_t counter = uint64_t(epoch) * uint64_t((n + B - 1) / B) + uint64_t(lo / B);
      Var x = augment(t, t.leaf(b.x), cfg_.strategy, dsa_params_, aug, aug_seed, counter, false);
      Var loss = ag::cross_entropy(t, net_->forward(t, th, buffers, x, true), b.labels);
      opt->step(s_, theta, t.grad(loss, {th})[0], cfg_.lr_net);
    }
  }
}

double Distiller::dc_iteration() {
  Tensor theta, buffers;
  fresh_network(theta, buffers);
  double total = 0;
  for (int64_t ol = 0; ol < cfg_.outer_loop; ++ol) {
    Clock t0 = clock();
    for (int64_t c = 0; c < pool_.classes(); ++c) total += dc_class(theta, buffers, ol, c, grad_);
    opt_->step(s_, images_, grad_, cfg_.lr_img);
    timing_.match_s += lap(t0), ++timing_.match_steps;
    if (ol + 1 == cfg_.outer_loop) break;
    if (cfg_.inner_loop > 0) {
      t0 = clock();
      inner_train(theta, buffers, ol);
      timing_.inner_s += lap(t0), ++timing_.inner_runs;
    }
  }
  return total / double(pool_.classes() * cfg_.outer_loop);
}

double Distiller::dm_iteration() {
  Tensor theta, buffers;
  fresh_network(theta, buffers);
  double total = 0;
  Clock t0 = clock();
  for (int64_t c = 0; c < pool_.classes(); ++c) total += dm_class(theta, buffers, c, grad_);
  opt_->step(s_, images_, grad_, cfg_.lr_img);
  timing_.match_s += lap(t0), ++timing_.match_steps;
  return total / double(pool_.classes());
}

Distiller::Clock Distiller::clock() const { return std::chrono::steady_clock::now(); }

double Distiller::lap(Clock t0) const {
  if (!timing_on_) return 0;
  s_.synchronize();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double Distiller::class_loss(int64_t c, Tensor* grad_images) {
  Tensor theta, buffers;
  fresh_network(theta, buffers);
  Tensor g = Tensor::zeros(images_.shape(), DType::f32, s_);
  double loss = cfg_.matches_gradients() ? dc_class(theta, buffers, 0, c, g) : dm_class(theta, buffers, c, g);
  if (grad_images) *grad_images = g;
  return loss;
}

std::map<std::string, Tensor> Distiller::state() const {
  std::map<std::string, Tensor> st = opt_->state("opt.");
  st["images"] = images_;
  st["iteration"] = Tensor::full({}, double(iteration_), DType::i64);
  return st;
}

void Distiller::load_state(const std::map<std::string, Tensor>& st, const std::string& who) {
  auto it = st.find("images"), at = st.find("iteration");
  SP_CHECK(it != st.end() && at != st.end(), who, ": the distillation checkpoint lacks 'images' or 'iteration'");
  SP_CHECK(it->second.shape() == images_.shape(), who, ": checkpoint images ", it->second.str(), " do not match ",
           images_.str(), " (another configuration?)");
  const int64_t iter = at->second.to(DType::i64).to_vector<int64_t>()[0];
  SP_CHECK(iter >= 0 && iter <= cfg_.iterations, who, ": checkpoint iteration ", iter, " is outside [0, ",
           cfg_.iterations, "]");
  images_.copy_(it->second.to(DType::f32), s_);
  opt_->load_state(st, "opt.", s_);
  iteration_ = iter;
}

}  // namespace sp::distill
