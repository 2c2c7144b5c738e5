// Optimiser state and steps (see optim.h). Tested in tests/test_optim.cpp.
#include "nn/optim.h"

#include <cmath>

#include "kernels/optim.h"

namespace sp {

std::string_view optim_kind_name(OptimKind k) {
  switch (k) {
    case OptimKind::sgd: return "sgd";
    case OptimKind::adam: return "adam";
    case OptimKind::adamw: return "adamw";
  }
  return "?";
}

OptimKind optim_kind_from_name(std::string_view name) {
  for (OptimKind k : {OptimKind::sgd, OptimKind::adam, OptimKind::adamw})
    if (optim_kind_name(k) == name) return k;
  SP_FAIL("unknown optimiser '", name, "' (expected sgd, adam or adamw)");
}

Optimizer::Optimizer(const OptimConfig& cfg, const Tensor& params, const Tensor& decay_mask)
    : cfg_(cfg), mask_(decay_mask) {
  SP_CHECK(params.defined(), "optimiser: parameters are undefined");
  shape_ = params.shape();
  dtype_ = params.dtype();
  device_ = params.device();
}

Tensor Optimizer::add_buffer(const std::string& name, Stream& s) {
  SP_CHECK(device_ == s.device(), "optimiser: parameters on ", device_, " but the stream is on ", s.device());
  buffers_.emplace_back(name, Tensor::zeros(shape_, dtype_, s));
  return buffers_.back().second;
}

void Optimizer::step(Stream& s, const Tensor& params, const Tensor& grads, double lr) {
  prepare(s, lr);
  apply(s, params, grads);
  advance();
}

void Optimizer::prepare(Stream& s, double lr) {
  SP_CHECK(std::isfinite(lr) && lr >= 0, "optimiser ", optim_kind_name(cfg_.kind), ": learning rate ", lr,
           " must be finite and >= 0");
  SP_CHECK(s.device() == device_, "optimiser: parameters on ", device_, " but the stream is on ", s.device());
  if (!hyper_.defined()) {
    hyper_ = Tensor::empty({2}, DType::f64, s);
    uploader_ = std::make_unique<HostUploader>(s);
  }
  const double values[2] = {lr, double(step_ + 1)};
  uploader_->upload_bytes(hyper_, values, sizeof values);
}

void Optimizer::apply(Stream& s, const Tensor& params, const Tensor& grads) {
  SP_CHECK(params.defined() && params.shape() == shape_ && params.dtype() == dtype_ && params.device() == device_,
           "optimiser ", optim_kind_name(cfg_.kind), ": parameters ", params.defined() ? params.str() : "(undefined)",
           " differ from the ", dtype_name(dtype_), shape_, " ", device_, " it was built for");
  SP_CHECK(hyper_.defined(), "optimiser: apply() before prepare()");
  update(s, params, grads, hyper_);
}

std::map<std::string, Tensor> Optimizer::state(const std::string& prefix) const {
  std::map<std::string, Tensor> st;
  st.emplace(prefix + "step", Tensor::from_vector<int64_t>({step_}, {}));
  for (const auto& [name, t] : buffers_) st.emplace(prefix + name, t);
  return st;
}

void Optimizer::load_state(const std::map<std::string, Tensor>& st, const std::string& prefix, Stream& s) {
  auto get = [&](const std::string& name) -> const Tensor& {
    auto it = st.find(prefix + name);
    SP_CHECK(it != st.end(), "optimiser ", optim_kind_name(cfg_.kind), ": state has no '", prefix + name, "'");
    return it->second;
  };
  const Tensor& step = get("step");
  SP_CHECK(step.numel() == 1 && !is_floating(step.dtype()), "optimiser: '", prefix, "step' must be one integer, got ",
           step.str());
  int64_t n = int64_t(step.to(Device::cpu(), s).item());
  SP_CHECK(n >= 0, "optimiser: negative step count ", n);
  for (auto& [name, t] : buffers_) {
    const Tensor& src = get(name);
    SP_CHECK(src.shape() == shape_, "optimiser: state '", prefix + name, "' is ", src.str(), ", expected shape ",
             shape_);
    t.copy_(src, s);
  }
  step_ = n;
}

Sgd::Sgd(const OptimConfig& cfg, const Tensor& params, Stream& s, const Tensor& decay_mask)
    : Optimizer(cfg, params, decay_mask) {
  SP_CHECK(cfg.kind == OptimKind::sgd, "Sgd: config is for ", optim_kind_name(cfg.kind));
  SP_CHECK(!cfg.nesterov || (cfg.momentum > 0 && cfg.dampening == 0),
           "Sgd: Nesterov momentum needs momentum > 0 and zero dampening");
  if (cfg.momentum != 0) buf_ = add_buffer("momentum_buffer", s);
}

void Sgd::update(Stream& s, const Tensor& params, const Tensor& grads, const Tensor& hyper) {
  SgdStepArgs a;
  a.momentum = cfg_.momentum;
  a.dampening = cfg_.dampening;
  a.weight_decay = cfg_.weight_decay;
  a.nesterov = cfg_.nesterov;
  sgd_step(s, params, buf_, grads, mask_, hyper, a);
}

Adam::Adam(const OptimConfig& cfg, const Tensor& params, Stream& s, const Tensor& decay_mask)
    : Optimizer(cfg, params, decay_mask) {
  SP_CHECK(cfg.kind == OptimKind::adam || cfg.kind == OptimKind::adamw, "Adam: config is for ",
           optim_kind_name(cfg.kind));
  m_ = add_buffer("exp_avg", s);
  v_ = add_buffer("exp_avg_sq", s);
}

void Adam::update(Stream& s, const Tensor& params, const Tensor& grads, const Tensor& hyper) {
  AdamStepArgs a;
  a.beta1 = cfg_.beta1;
  a.beta2 = cfg_.beta2;
  a.eps = cfg_.eps;
  a.weight_decay = cfg_.weight_decay;
  a.decoupled = cfg_.kind == OptimKind::adamw;
  adam_step(s, params, m_, v_, grads, mask_, hyper, a);
}

std::unique_ptr<Optimizer> make_optimizer(const OptimConfig& cfg, const Tensor& params, Stream& s,
                                          const Tensor& decay_mask) {
  if (cfg.kind == OptimKind::sgd) return std::make_unique<Sgd>(cfg, params, s, decay_mask);
  return std::make_unique<Adam>(cfg, params, s, decay_mask);
}

}  // namespace sp
