// Paradigm "diffusion" inside train_shadow (paradigms/engine/shadow_train.cpp): before classifier k trains, a
// class-conditional DDPM is trained from scratch on its private set D_k (unet_trainer.h), generates the images the
// classifier then trains on (generation.h), and is itself scored for the diffusion-model LiRA. Files in
// DIR/shadow/<k>/, each written atomically:
//   unet_checkpoint.safetensors  while the UNet trains: weights, EMA, Adam state, step, loss curve, written on the
//                          checkpoint clock; a rerun resumes from it and ends with the same bytes
//   unet.safetensors       the EMA UNet as a PyTorch state_dict (names of the ddim port), its configuration in the
//                          metadata; written when training ends, it marks the training as done
//   diffusion_scores.npy   f32 [M, Q]: per audit sample and fixed query (timestep x noise, the same for every
//                          shadow), -log of its denoising loss: the diffusion-model LiRA's statistic
//   generated/chunk_NNNNN.npy  the generated set while it is made, one file per sampling chunk
//   generated.npy, generated_labels.npy, generated_source.npy   u8 [N, C, H, W], i64 [N] conditioning labels,
//                          i64 [N] training-set index of the private image (img2img) or -1; the chunks are removed
//   samples.png            generated images, one row per class
//   nearest.json           per audit sample: IN or OUT, the nearest generated image and its RMS pixel distance; for
//                          img2img also the distance of each IN audit sample to its own SDEdit outputs
//   pairs.png              IN canaries over their nearest generated images, then the same for OUT canaries
//   diffusion.json         the record: settings, loss curve, seconds and images/s per phase
// Everything is deterministic from (experiment seed, k). Tested in tests/test_diffusion_shadow.cpp (end to end with
// sp_train, a kill and resume, bad checkpoints).
#pragma once
#include <memory>

#include "paradigms/engine/experiment_run.h"
#include "paradigms/engine/progress.h"
#include "paradigms/engine/shadow_job.h"

namespace sp::diffusion {

std::unique_ptr<ShadowJob> prepare_diffusion_shadow(const ExperimentRun& run, int k, const data::TrainingSet& ts,
                                                    Stream& s, ProgressPrinter* progress);

// Before any work: every shadow's UNet files that exist must hold this configuration's UNet (names and shapes).
void check_diffusion_experiment(const ExperimentRun& run);

// Shadow k's fixed-query statistic file (for the experiment-level attack).
std::string scores_path(const std::string& shadow_dir);

}  // namespace sp::diffusion
