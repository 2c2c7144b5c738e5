// What trajectory matching (MTT / DATM) prepares for a shadow before its distillation loop
// (shared/reference/round2-methods.md §0.4, §4.1, §5.3, §5.4):
//   the model-input space: ZCA whitening fitted on the shadow's private set D_k in [0, 1] pixels (eps 0.1,
//     no mean/std normalisation; DIR/shadow/<k>/zca.safetensors), or the recipe's normalisation without ZCA;
//   D_k in that space, the expert trajectories trained on it (experts.h);
//   the initial images: `samples_predicted_correctly` (per class, a random order of D_k's images of that
//     class scanned in batches of 256, keeping those the first expert's snapshot at label_expert_epoch
//     predicts as their training label, moving on to the next expert when a pass runs out), or the common
//     real / noise / ood inits mapped into the input space;
//   DATM's label logits: per initial image, the mean logits over the experts (snapshot label_expert_epoch)
//     that predict its label (none does: the mean over all experts, recorded); without
//     samples_predicted_correctly, the first expert's logits, as upstream.
// Tested in tests/test_distill_trajectory.cpp.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "data/augment.h"
#include "data/audit.h"
#include "nn/zca.h"
#include "paradigms/distill/distill_config.h"
#include "paradigms/distill/initial_images.h"

namespace sp::distill {

// Maps between the recipe-normalised images every other part of the tool uses and the model-input space.
struct InputSpace {
  data::Normalization norm;  // the recipe's
  std::optional<Zca> zca;    // on the device, when whitening
  Tensor from_normalized(Stream& s, const Tensor& x) const;
  Tensor to_normalized(Stream& s, const Tensor& x) const;  // for grids
  std::string digest() const { return zca ? zca->digest : "none"; }
};

// The SHA-256 of D_k's indices and training labels: what the ZCA fit and the experts were made from.
std::string private_set_digest(const data::TrainingSet& ts);

// The ZCA fit of a shadow from x01 (f32 [n, C, H, W] in [0, 1], CPU): reused from zca_path when it exists and
// was fitted on the same private set with the same eps (else an error naming the file), written otherwise.
Zca shadow_zca(const std::string& zca_path, const Tensor& x01, double eps, const std::string& private_digest);

// Positions (into D_k's order, i.e. rows of x) of the initial images, class-major: ipc per class.
// x: D_k in the input space on the device; labels: D_k's training labels. Throws when the experts classify
// fewer than ipc images of a class correctly.
std::vector<int64_t> samples_predicted_correctly(const DistillConfig& c, const std::vector<Tensor>& experts,
                                                 const Tensor& x, const std::vector<int64_t>& labels, int64_t classes,
                                                 uint64_t key, Stream& s, int64_t* experts_used = nullptr);

// DATM's label logits f32 [n, classes] of the initial images (input space, device); `mean_over_experts`:
// the masked mean over every expert (samples_predicted_correctly) or the first expert's logits.
// `unmatched`: images no expert classified as labelled (their logits are the unmasked mean).
Tensor initial_label_logits(const DistillConfig& c, const std::vector<Tensor>& experts, const Tensor& images,
                            const std::vector<int64_t>& labels, int64_t classes, bool mean_over_experts, Stream& s,
                            int64_t* unmatched = nullptr);

}  // namespace sp::distill
