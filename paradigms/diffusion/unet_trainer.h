// Training one shadow's DDPM on its private set D_k (shared/reference/round2-methods.md §7.2): images scaled to
// [-1, 1] with random horizontal flips, t ~ U{0..T-1}, eps ~ N(0, I), x_t = sqrt(ab_t) x0 + sqrt(1 - ab_t) eps,
// loss = mean ||eps - eps_theta(x_t, t, y)||^2 with labels replaced by the null class with probability p_uncond;
// Adam with a linear learning-rate warm-up, global gradient-norm clipping, and an EMA of the weights (equal to the
// weights after the first step, as TensorFlow's decay of 1e-10 at step 0 makes it) that the samplers use.
// Everything random is a function of (key, step): batches drawn with replacement, flips, timesteps, label drops,
// noise and dropout masks, so a run resumed from its state() ends with the same bytes. Tested in
// tests/test_diffusion_train.cpp (the loss falls on a tiny set, resume gives identical bytes, the EMA rule, the
// clip, bad input).
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "nn/models/ddpm_unet.h"
#include "nn/optim.h"
#include "nn/tape.h"
#include "paradigms/diffusion/diffusion_config.h"
#include "paradigms/diffusion/noise_schedule.h"
#include "paradigms/engine/device_data.h"

namespace sp::diffusion {

class UNetTrainer {
 public:
  // data: D_k as u8 images with their training labels (not owned; on s's device). key: the shadow's key.
  UNetTrainer(const models::Denoiser& unet, const TrainConfig& c, const NoiseSchedule& ns, const DeviceData& data,
              uint64_t key, Stream& s);

  // One optimisation step; returns the batch loss (host value, checked finite by the caller).
  double step();
  int64_t steps_done() const { return step_; }
  double lr_at(int64_t step) const;  // the warm-up schedule
  double last_grad_norm() const { return last_norm_; }

  const Tensor& theta() const { return theta_; }
  const Tensor& ema() const { return ema_; }

  // Checkpoint state (theta, EMA, Adam, step) and its restoration (shapes checked, naming `path`).
  std::map<std::string, Tensor> state() const;
  void load_state(const std::map<std::string, Tensor>& st, const std::string& path);

 private:
  const models::Denoiser& unet_;
  TrainConfig c_;
  const NoiseSchedule& ns_;
  const DeviceData& data_;
  uint64_t key_;
  Stream& s_;
  Tensor theta_, ema_, sq_;
  std::unique_ptr<Optimizer> opt_;
  Tape tape_;
  int64_t step_ = 0;
  double last_norm_ = 0;
};

// The denoising loss of images x0 (model space, [-1, 1]) for fixed noises and timesteps, per image and query:
// out[i][q] = mean over pixels (eps_q,i - eps_theta(x_t, t_q, y_i))^2 with eps_q,i from (key, q, ids[i]), the
// same for every model given the same key and ids. Used by the diffusion-model LiRA (every shadow scores every
// audit sample on identical queries). theta: the EMA weights.
std::vector<std::vector<double>> denoising_losses(Stream& s, const models::Denoiser& unet, const Tensor& theta,
                                                  const NoiseSchedule& ns, const Tensor& x0,
                                                  const std::vector<int64_t>& labels, const std::vector<int64_t>& ids,
                                                  const std::vector<int64_t>& timesteps, int64_t noises, uint64_t key,
                                                  int64_t batch);

// Images u8 [N, C, H, W] (any device) -> f32 [N, C, H, W] in [-1, 1] on s's device (rows `ids`, flipped where
// flip[i] is set; flip may be empty).
Tensor to_model_space(Stream& s, const Tensor& images_u8, const std::vector<int64_t>& ids, const std::vector<uint8_t>& flip);

}  // namespace sp::diffusion
