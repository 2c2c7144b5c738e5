// MTT / DATM iterations (see trajectory_distiller.h).
#include "paradigms/distill/trajectory_distiller.h"

#include <algorithm>
#include <cmath>

#include "kernels/counter_rng.h"
#include "kernels/error.h"
#include "nn/ops_elementwise.h"
#include "nn/ops_loss.h"
#include "paradigms/distill/class_pool.h"

namespace sp::distill {

namespace {
constexpr uint64_t kPurposeExpert = 0x544d455850ULL;   // "TMEXP": expert order per round
constexpr uint64_t kPurposeStart = 0x544d535441ULL;    // "TMSTA": start epoch
constexpr uint64_t kPurposeBatch = 0x544d424154ULL;    // "TMBAT": minibatch permutation
constexpr uint64_t kPurposeAug = 0x544d415547ULL;      // "TMAUG": per-sample DSA of each step

uint64_t iter_key(uint64_t key, uint64_t purpose, int64_t it) {
  return crng::derive_key(crng::derive_key(key, purpose), uint64_t(it));
}

std::vector<int64_t> iota(int64_t n) {
  std::vector<int64_t> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[size_t(i)] = i;
  return v;
}

std::unique_ptr<Optimizer> sgd(double momentum, const Tensor& params, Stream& s) {
  OptimConfig oc;
  oc.kind = OptimKind::sgd;
  oc.momentum = momentum;
  return make_optimizer(oc, params, s);
}
}  // namespace

TrajectoryDistiller::TrajectoryDistiller(const DistillConfig& cfg, int64_t classes, Tensor images, Tensor label_logits,
                                         const std::vector<Tensor>& experts, uint64_t key, Stream& s)
    : cfg_(cfg), classes_(classes), net_(make_model(cfg.net)), images_(std::move(images)), logits_(std::move(label_logits)),
      experts_(experts), key_(key), s_(s) {
  const int64_t n = cfg.ipc * classes;
  SP_CHECK(images_.dtype() == DType::f32 && images_.dim() == 4 && images_.size(0) == n,
           "trajectory distiller: images must be f32 [", n, ", C, H, W], got ", images_.str());
  SP_CHECK(cfg.soft_labels == logits_.defined(), "trajectory distiller: soft labels ", cfg.soft_labels ? "need" : "take no",
           " label logits");
  if (logits_.defined())
    SP_CHECK(logits_.shape() == Shape({n, classes}) && logits_.dtype() == DType::f32, "trajectory distiller: label logits ",
             logits_.str(), " must be f32 [", n, ", ", classes, "]");
  SP_CHECK(int64_t(experts_.size()) == cfg.experts.count, "trajectory distiller: ", experts_.size(), " experts, ",
           cfg.experts.count, " configured");
  const int64_t P = net_->params().numel();
  for (const Tensor& e : experts_)
    SP_CHECK(e.dim() == 2 && e.size(1) == P && e.size(0) >= cfg.max_start_epoch + cfg.expert_epochs,
             "trajectory distiller: an expert trajectory ", e.str(), " does not hold epochs up to ",
             cfg.max_start_epoch - 1 + cfg.expert_epochs, " of ", P, " parameters");
  lr_ = Tensor::full({1}, cfg.lr_teacher, DType::f32, s);
  opt_img_ = sgd(cfg.momentum_img, images_, s);
  opt_lr_ = sgd(cfg.momentum_lr, lr_, s);
  if (logits_.defined()) opt_y_ = sgd(cfg.momentum_y, logits_, s);
}

std::vector<int64_t> TrajectoryDistiller::labels() const {
  std::vector<int64_t> y;
  for (int64_t c = 0; c < classes_; ++c) y.insert(y.end(), size_t(cfg_.ipc), c);
  return y;
}

TrajectoryDistiller::Draw TrajectoryDistiller::draw(int64_t it) const {
  const int64_t count = int64_t(experts_.size());
  std::vector<int64_t> order = random_prefix(iota(count), count, crng::derive_key(key_, kPurposeExpert), uint64_t(it / count));
  Draw d;
  d.expert = order[size_t(it % count)];
  const int64_t lo = cfg_.min_start_epoch, hi = cfg_.start_epoch_upper(it);
  crng::Stream32 r(iter_key(key_, kPurposeStart, it), 0);
  d.start_epoch = lo + int64_t(r.below64(uint64_t(std::max<int64_t>(1, hi - lo))));
  return d;
}

TrajectoryMatchArgs TrajectoryDistiller::args(int64_t it) const {
  const Draw d = draw(it);
  const Tensor& e = experts_[size_t(d.expert)];
  const int64_t P = e.size(1);
  TrajectoryMatchArgs a;
  a.model = net_.get();
  a.buffers = Tensor::zeros({net_->buffers().numel()}, DType::f32, s_);
  a.theta_start = e.narrow(0, d.start_epoch, 1).view({P}).to(DType::f32).to(s_.device(), s_).contiguous(s_);
  a.theta_target =
      e.narrow(0, d.start_epoch + cfg_.expert_epochs, 1).view({P}).to(DType::f32).to(s_.device(), s_).contiguous(s_);
  a.images = images_;
  if (logits_.defined())
    a.label_logits = logits_;
  else
    a.labels = Tensor::from_vector(labels(), {images_.size(0)}).to(s_.device(), s_);
  a.lr = lr_.to(DType::f64, s_).to_vector<double>(s_)[0];
  // Minibatches: chunks of a fresh permutation, re-drawn when they run out (upstream's indices_chunks); each
  // chunk sorted, which changes nothing (the loss is a mean, the augmentation per sample) but makes the
  // chunk of a whole set a single view.
  const int64_t n = images_.size(0), B = cfg_.batch_syn > 0 ? cfg_.batch_syn : n;
  std::vector<int64_t> perm;
  int64_t used = 0, round = 0;
  for (int64_t k = 0; k < cfg_.syn_steps; ++k) {
    if (used == int64_t(perm.size())) {
      perm = B == n ? iota(n) : random_prefix(iota(n), n, iter_key(key_, kPurposeBatch, it), uint64_t(round++));
      used = 0;
    }
    const int64_t len = std::min(B, int64_t(perm.size()) - used);
    std::vector<int64_t> rows(perm.begin() + used, perm.begin() + used + len);
    std::sort(rows.begin(), rows.end());
    a.batches.push_back(std::move(rows));
    used += len;
  }
  if (cfg_.dsa) {
    auto draws = std::make_shared<std::vector<dsa::AugDraw>>();
    const uint64_t seed = iter_key(key_, kPurposeAug, it);
    for (int64_t k = 0; k < cfg_.syn_steps; ++k)
      draws->push_back(dsa::draw(cfg_.strategy, dsa_params_, int64_t(a.batches[size_t(k)].size()), images_.size(2),
                                 images_.size(3), seed, uint64_t(k), false));
    a.aug = [draws](Tape& t, Var x, int64_t k) { return dsa::apply(t, x, (*draws)[size_t(k)]); };
  }
  return a;
}

TrajectoryMatchResult TrajectoryDistiller::evaluate(MetaGradMode mode) const {
  return trajectory_match(s_, args(iteration_), mode);
}

double TrajectoryDistiller::step() {
  TrajectoryMatchResult r = trajectory_match(s_, args(iteration_), cfg_.meta_gradient);
  if (std::isfinite(r.loss) && r.loss <= cfg_.threshold) {
    opt_img_->step(s_, images_, r.grad_images, cfg_.lr_img);
    opt_lr_->step(s_, lr_, Tensor::full({1}, r.grad_lr, DType::f32).to(s_.device(), s_), cfg_.lr_lr);
    if (opt_y_) opt_y_->step(s_, logits_, r.grad_label_logits, cfg_.lr_y);
  } else if (std::isfinite(r.loss)) {
    ++skipped_;
  }
  ++iteration_;
  return r.loss;
}

double TrajectoryDistiller::learned_lr() const { return lr_.to(DType::f64, s_).to_vector<double>(s_)[0]; }

Tensor TrajectoryDistiller::soft_labels() const {
  if (!logits_.defined()) return {};
  Tape t(s_);
  t.set_recording(false);
  return t.value(ag::exp(t, ag::log_softmax(t, t.leaf(logits_)))).to(Device::cpu(), s_).contiguous();
}

nlohmann::json TrajectoryDistiller::record() const {
  nlohmann::json j = {{"syn_lr", learned_lr()}, {"lr_teacher", cfg_.lr_teacher}, {"meta_gradient", meta_grad_mode_name(cfg_.meta_gradient)}};
  if (cfg_.method == Method::datm) j["threshold_skipped_iterations"] = skipped_;
  return j;
}

std::map<std::string, Tensor> TrajectoryDistiller::state() const {
  std::map<std::string, Tensor> st = opt_img_->state("opt.");
  for (auto& [k, v] : opt_lr_->state("opt_lr.")) st[k] = v;
  if (opt_y_)
    for (auto& [k, v] : opt_y_->state("opt_y.")) st[k] = v;
  st["images"] = images_;
  st["syn_lr"] = lr_;
  if (logits_.defined()) st["label_logits"] = logits_;
  st["iteration"] = Tensor::full({}, double(iteration_), DType::i64);
  st["skipped"] = Tensor::full({}, double(skipped_), DType::i64);
  return st;
}

void TrajectoryDistiller::load_state(const std::map<std::string, Tensor>& st, const std::string& who) {
  auto get = [&](const std::string& k) -> const Tensor& {
    auto it = st.find(k);
    SP_CHECK(it != st.end(), who, ": the distillation checkpoint lacks '", k, "'");
    return it->second;
  };
  const Tensor& im = get("images");
  SP_CHECK(im.shape() == images_.shape(), who, ": checkpoint images ", im.str(), " do not match ", images_.str(),
           " (another configuration?)");
  const int64_t iter = get("iteration").to(DType::i64).to_vector<int64_t>()[0];
  SP_CHECK(iter >= 0 && iter <= cfg_.iterations, who, ": checkpoint iteration ", iter, " is outside [0, ", cfg_.iterations, "]");
  images_.copy_(im.to(DType::f32), s_);
  SP_CHECK(get("syn_lr").numel() == 1, who, ": syn_lr must hold one value");
  lr_.copy_(get("syn_lr").to(DType::f32).view({1}), s_);
  if (logits_.defined()) {
    SP_CHECK(get("label_logits").shape() == logits_.shape(), who, ": checkpoint label logits do not match");
    logits_.copy_(get("label_logits").to(DType::f32), s_);
    opt_y_->load_state(st, "opt_y.", s_);
  }
  opt_img_->load_state(st, "opt.", s_);
  opt_lr_->load_state(st, "opt_lr.", s_);
  iteration_ = iter;
  skipped_ = get("skipped").to(DType::i64).to_vector<int64_t>()[0];
}

}  // namespace sp::distill
