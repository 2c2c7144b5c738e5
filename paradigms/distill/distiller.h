// The distillation loop of one synthetic set: DC / DSA gradient matching and DM distribution matching
// (shared/reference/round2-methods.md §1-3), one iteration at a time, with its state (images, the image
// optimiser's momentum, the iteration count) exposed for checkpoints.
//   DC / DSA iteration: a freshly initialised network; for each of outer_loop steps, per class c, the
//     layer-wise cosine distance between the parameter gradients of a real batch of class c (batch_real
//     images of D_k, a constant) and of the synthetic images of class c (a create-graph gradient, so the
//     distance's gradient w.r.t. the images is a mixed second derivative); one SGD-with-momentum step on all
//     images; then, except after the last step, inner_loop epochs of plain SGD (lr_net) of the network on the
//     synthetic set. DSA augments each class's real and synthetic batch with one shared (Siamese) draw and the
//     inner epochs with per-sample draws.
//   DM iteration: a freshly initialised network that is never trained; per class, the squared distance
//     between the mean embeddings (the features before the classifier) of a real and the synthetic batch,
//     both augmented with one Siamese draw; one step on all images.
// Every random choice (network initialisation, real batches, augmentations, inner epoch orders) is a pure
// function of (key, iteration, step, class), so an iteration resumed from a checkpoint repeats exactly.
// Networks with batch norm run in training mode (batch statistics of each batch). Tested in
// tests/test_distill.cpp (each method lowers its own loss and moves the images; resume equals an
// uninterrupted run byte for byte; DC's step against a finite-difference check of its loss).
#pragma once
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "nn/model.h"
#include "nn/optim.h"
#include "paradigms/distill/class_pool.h"
#include "paradigms/distill/distill_config.h"
#include "paradigms/distill/set_distiller.h"

namespace sp::distill {

class Distiller final : public SetDistiller {
 public:
  // images: f32 [classes * ipc, C, H, W] on s's device, class-major (class c in rows [c ipc, (c + 1) ipc));
  // taken over (updated in place). pool: the real images (outlives the distiller).
  Distiller(const DistillConfig& cfg, const ClassPool& pool, Tensor images, uint64_t key, Stream& s);

  int64_t iteration() const override { return iteration_; }
  const Tensor& images() const override { return images_; }
  // Labels of the rows of images() (class-major).
  std::vector<int64_t> labels() const override;
  // Runs iteration iteration() and advances; returns its loss (the mean over classes and matching steps).
  double step() override;

  // Checkpoint state: "images", "iteration" (i64 scalar) and the optimiser's ("opt.*").
  std::map<std::string, Tensor> state() const override;
  void load_state(const std::map<std::string, Tensor>& st, const std::string& who) override;

  // Seconds spent in matching steps (all classes of one step, with the image update) and in inner training
  // epochs since construction, when timing is on (each phase then ends with a device synchronisation).
  struct Timing {
    double match_s = 0, inner_s = 0;
    int64_t match_steps = 0, inner_runs = 0;
  };
  void set_timing(bool on) { timing_on_ = on; }
  const Timing& timing() const { return timing_; }

  // The loss of one matching step for class c without changing anything (the DC distance or the DM distance
  // for step `ol` of the current iteration's network, before any inner training): for tests.
  double class_loss(int64_t c, Tensor* grad_images = nullptr);

 private:
  double dc_iteration();
  double dm_iteration();
  // d loss / d images of class c (written into rows of grad) and the loss, for matching step ol.
  double dc_class(const Tensor& theta, const Tensor& buffers, int64_t ol, int64_t c, const Tensor& grad);
  double dm_class(const Tensor& theta, const Tensor& buffers, int64_t c, const Tensor& grad);
  void inner_train(const Tensor& theta, const Tensor& buffers, int64_t ol);
  void fresh_network(Tensor& theta, Tensor& buffers) const;
  using Clock = std::chrono::steady_clock::time_point;
  Clock clock() const;
  double lap(Clock t0) const;  // seconds since t0 after a synchronisation (0 when timing is off)

  const DistillConfig& cfg_;
  const ClassPool& pool_;
  std::unique_ptr<Model> net_;
  Tensor images_, grad_;
  uint64_t key_;
  Stream& s_;
  std::unique_ptr<Optimizer> opt_;
  int64_t iteration_ = 0;
  dsa::DsaParams dsa_params_;
  bool timing_on_ = false;
  Timing timing_;
};

}  // namespace sp::distill
