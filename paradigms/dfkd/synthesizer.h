// One synthesis call per epoch of data-free distillation (shared/reference/round2-methods.md §6.1-6.3): a
// generator (nn/models/dcgan_generator.h) maps a fresh batch of latents z to images in [0, 1], which are
// randomly cropped (zero padding) and flipped per image, normalised, and passed through the frozen teacher (eval
// mode) with a trace on its BatchNorm layers; the generator and z take g_steps Adam steps (betas 0.5, 0.999; lr_g
// and lr_z) on
//   L = bn * L_bn + oh * CE(teacher(x), random targets) + adv * L_adv,
// L_bn the BatchNorm-statistics loss blended with momentum statistics (nn/matching_losses.h), L_adv Fast's
// masked negative KL between teacher and student (eval mode) after the warm-up. The un-augmented batch of the
// iteration with the lowest L is returned, quantised to 8 bits as the reference's PNG pool is.
//   method bn:   one generator trained directly (its Adam state kept across calls), z fresh each call;
//   method fast: a meta-generator; each call trains a copy and adds the copy's gradients of every iteration to
//                the meta-gradient (first-order MAML), stepped once with lr_g * g_steps at the last iteration;
//                reset_epoch epochs after the warm-up the first linear layer and BatchNorm are re-initialised
//                (N(0, 0.02) weights, zero bias) as upstream does.
// Everything random is a function of (seed, epoch), so a run resumed from state() repeats the same batches.
// Tested in tests/test_dfkd_synthesis.cpp.
#pragma once
#include <map>
#include <memory>
#include <string>

#include "data/augment.h"
#include "nn/matching_losses.h"
#include "nn/model.h"
#include "nn/module.h"
#include "nn/optim.h"
#include "paradigms/dfkd/dfkd_config.h"

namespace sp::dfkd {

struct FrozenModel {
  const Model* model = nullptr;
  Tensor theta, buffers;
};

struct SynthesisResult {
  Tensor images;          // u8 [batch, C, H, W] on the CPU
  double best_loss = 0;   // L of the kept iteration
  double bn_loss = 0;     // L_bn of the kept iteration
};

class Synthesizer {
 public:
  // image: [C, H, W] of the dataset; norm: the teacher's input normalisation.
  Synthesizer(const DfkdConfig& c, FrozenModel teacher, int64_t classes, const Shape& image,
              const data::Normalization& norm, Stream& s, uint64_t seed);

  // Synthesis of epoch `epoch` (from 0). `student` is needed when adv > 0 and epoch >= warmup.
  SynthesisResult synthesize(int epoch, const FrozenModel& student);

  const Network& generator() const { return *gen_; }
  const Tensor& generator_theta() const { return theta_; }
  const Tensor& generator_buffers() const { return buffers_; }

  // Everything a resumed run needs (generator, optimiser state, momentum statistics), keyed under `prefix`.
  std::map<std::string, Tensor> state(const std::string& prefix) const;
  void load_state(const std::map<std::string, Tensor>& st, const std::string& prefix);

 private:
  void reset_first_layer();
  DfkdConfig c_;
  FrozenModel teacher_;
  int64_t classes_;
  Shape image_;
  Stream& s_;
  uint64_t seed_;
  std::unique_ptr<Network> gen_;
  Tensor theta_, buffers_;               // the (meta-)generator
  std::unique_ptr<Optimizer> gen_opt_;   // bn: the generator's Adam; fast: the meta-optimiser
  Tensor mean_, inv_std_;                // [1, C, 1, 1]
  BnStatistics momentum_;
};

}  // namespace sp::dfkd
