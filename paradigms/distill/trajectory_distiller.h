// MTT and DATM iterations (shared/reference/round2-methods.md §4.2, §5.2) over a shadow's expert trajectories:
// per iteration the next expert of a per-round shuffled order and a start epoch ~ U[min_start_epoch, upper)
// (upper = max_start_epoch, or DATM's sequentially growing window), theta_start = its snapshot at the start
// epoch and theta_target = the snapshot expert_epochs later; syn_steps student steps on minibatches of the
// synthetic set (batch_syn rows of a fresh permutation per iteration, all rows when 0) with per-sample DSA
// and the learnable step size; the normalised parameter-distance loss and its exact meta-gradient
// (nn/trajectory_matching.h, unrolled or adjoint); then SGD with momentum on the images (lr_img, 0.5), the
// step size (lr_lr, momentum_lr) and, for DATM with soft labels, the label logits (lr_y, momentum_y), all
// three only when the loss is at most the threshold (DATM's gate; MTT has none). Every random choice is a
// function of (key, iteration), so a resumed run repeats exactly. Tested in
// tests/test_distill_trajectory.cpp.
#pragma once
#include <memory>

#include "nn/dsa.h"
#include "nn/model.h"
#include "nn/optim.h"
#include "paradigms/distill/distill_config.h"
#include "paradigms/distill/set_distiller.h"

namespace sp::distill {

class TrajectoryDistiller final : public SetDistiller {
 public:
  // images: f32 [classes * ipc, C, H, W] on s's device, class-major, in the model-input space (taken over);
  // label_logits: f32 [classes * ipc, classes] for DATM's soft labels (else undefined); experts: each
  // [epochs + 1, P] (f32 or f16, any device; outlive the distiller).
  TrajectoryDistiller(const DistillConfig& cfg, int64_t classes, Tensor images, Tensor label_logits,
                      const std::vector<Tensor>& experts, uint64_t key, Stream& s);

  int64_t iteration() const override { return iteration_; }
  const Tensor& images() const override { return images_; }
  std::vector<int64_t> labels() const override;
  double step() override;
  std::map<std::string, Tensor> state() const override;
  void load_state(const std::map<std::string, Tensor>& st, const std::string& who) override;
  double learned_lr() const override;
  Tensor soft_labels() const override;
  nlohmann::json record() const override;

  // The choices of iteration `it`: the expert and the start epoch.
  struct Draw {
    int64_t expert = 0, start_epoch = 0;
  };
  Draw draw(int64_t it) const;
  // Iterations whose update the threshold gate skipped so far.
  int64_t skipped() const { return skipped_; }
  // The loss and gradients of the current iteration's draw without changing anything (for tests).
  TrajectoryMatchResult evaluate(MetaGradMode mode) const;

 private:
  TrajectoryMatchArgs args(int64_t it) const;

  const DistillConfig& cfg_;
  int64_t classes_;
  std::unique_ptr<Model> net_;
  Tensor images_, logits_, lr_;
  const std::vector<Tensor>& experts_;
  uint64_t key_;
  Stream& s_;
  std::unique_ptr<Optimizer> opt_img_, opt_lr_, opt_y_;
  int64_t iteration_ = 0, skipped_ = 0;
  dsa::DsaParams dsa_params_;
};

}  // namespace sp::distill
