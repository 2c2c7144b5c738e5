// make_model: the model factory of nn/model.h, dispatching on ModelConfig::name, the activation layout's
// names, and the default
// Model::forward_features. Tested in tests/test_models.cpp (every name, unknown names, bad configurations,
// features).
#include "nn/model.h"
#include "nn/models/model_base.h"

namespace sp {

ModelOutputs Model::forward_features(Tape&, Var, const Tensor&, Var, bool) const {
  SP_FAIL("model '", config().name, "' does not expose penultimate features (forward_features)");
}

ActivationLayout parse_activation_layout(const std::string& s) {
  if (s == "auto") return ActivationLayout::automatic;
  if (s == "nchw") return ActivationLayout::nchw;
  if (s == "nhwc") return ActivationLayout::nhwc;
  SP_FAIL("activation layout '", s, "' is not auto, nchw or nhwc");
}

const char* activation_layout_name(ActivationLayout l) {
  switch (l) {
    case ActivationLayout::nchw: return "nchw";
    case ActivationLayout::nhwc: return "nhwc";
    default: return "auto";
  }
}

std::unique_ptr<Model> make_model(const ModelConfig& cfg) {
  if (cfg.name == "resnet18") return models::make_resnet18(cfg, false);
  if (cfg.name == "resnet18_gn") return models::make_resnet18(cfg, true);
  if (cfg.name == "wrn16_4") return models::make_wrn16_4(cfg);
  if (cfg.name == "convnet3") return models::make_convnet3(cfg);
  SP_FAIL("make_model: unknown model '", cfg.name, "' (expected resnet18, resnet18_gn, wrn16_4 or convnet3)");
}

}  // namespace sp
