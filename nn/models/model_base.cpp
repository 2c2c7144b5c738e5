// The input checks and the activation-layout rule shared by the classifiers (see model_base.h).
#include "nn/models/model_base.h"

#include "kernels/cpu/fast_path.h"
#include "nn/layer_trace.h"

namespace sp::models {

void ModelBase::check_forward(Tape& t, Var theta, const Tensor& buffers, Var x) const {
  layers_.check_theta_and_buffers(t, theta, buffers);
  const Tensor& th = t.value(theta);
  const Tensor& xv = t.value(x);
  SP_CHECK(xv.dim() == 4 && xv.size(1) == cfg_.in_channels && xv.size(2) == cfg_.image_size &&
               xv.size(3) == cfg_.image_size,
           cfg_.name, ": input ", xv.str(), " must be [N, ", cfg_.in_channels, ", ", cfg_.image_size, ", ",
           cfg_.image_size, "]");
  SP_CHECK(xv.dtype() == th.dtype(), cfg_.name, ": input ", xv.str(), " and theta ", th.str(), " differ in dtype");
}

Layout ModelBase::activation_layout(Tape& t, Var theta) const {
  const bool traced = LayerTrace::active() != nullptr;
  SP_CHECK(!(traced && cfg_.layout == ActivationLayout::nhwc), cfg_.name,
           ": a layer trace (per-sample gradients, BN statistics losses) reads NCHW activations; this model is "
           "configured for nhwc");
  if (cfg_.layout != ActivationLayout::automatic)
    return cfg_.layout == ActivationLayout::nhwc ? Layout::nhwc : Layout::nchw;
  // Measured faster (docs/benchmarks.md): float32 CPU training and queries with oneDNN's convolutions.
  const Tensor& th = t.value(theta);
  const bool fast_cpu = th.dtype() == DType::f32 && th.device().is_cpu() && cpu::fast_path() && cpu::dnnl_built();
  return fast_cpu && !traced ? Layout::nhwc : Layout::nchw;
}

void check_config(const ModelConfig& cfg, int64_t min_image_size) {
  SP_CHECK(cfg.width >= 1, cfg.name, ": width ", cfg.width, " must be >= 1");
  SP_CHECK(cfg.num_classes >= 2, cfg.name, ": num_classes ", cfg.num_classes, " must be >= 2");
  SP_CHECK(cfg.in_channels >= 1, cfg.name, ": in_channels ", cfg.in_channels, " must be >= 1");
  SP_CHECK(cfg.image_size >= min_image_size, cfg.name, ": image_size ", cfg.image_size, " must be >= ",
           min_image_size);
}

void check_nchw_only(const ModelConfig& cfg) {
  SP_CHECK(cfg.layout != ActivationLayout::nhwc, cfg.name,
           ": channels-last (layout nhwc) needs batch norm; this model's group norm takes NCHW (use auto or nchw)");
}

}  // namespace sp::models
