// The input checks shared by the classifiers (see model_base.h).
#include "nn/models/model_base.h"

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

void check_config(const ModelConfig& cfg, int64_t min_image_size) {
  SP_CHECK(cfg.width >= 1, cfg.name, ": width ", cfg.width, " must be >= 1");
  SP_CHECK(cfg.num_classes >= 2, cfg.name, ": num_classes ", cfg.num_classes, " must be >= 2");
  SP_CHECK(cfg.in_channels >= 1, cfg.name, ": in_channels ", cfg.in_channels, " must be >= 1");
  SP_CHECK(cfg.image_size >= min_image_size, cfg.name, ": image_size ", cfg.image_size, " must be >= ",
           min_image_size);
}

}  // namespace sp::models
