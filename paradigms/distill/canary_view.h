// What the paper's Fig. 7 shows, per shadow: for each IN canary, the label the final model predicts for it
// (its flipped training label, its true label, or another), its logits, and the synthetic image nearest to
// it (squared L2 distance in the model-input space) with that image's label, the logits the model gives it,
// and whether it started from this very canary. A model trained on a distilled set that predicts the
// canaries' true labels has not memorised their flipped labels, which is why LiRA finds little.
// Written as DIR/shadow/<k>/canaries.json (atomically); the counts go into metrics.json. Tested in
// tests/test_distill_trajectory.cpp (hand-made logits and images) and end to end in
// tests/test_distill_shadow.cpp.
#pragma once
#include <functional>
#include <nlohmann/json.hpp>
#include <vector>

#include "kernels/tensor.h"

namespace sp::distill {

struct CanaryCounts {
  int64_t flipped = 0, true_label = 0, other = 0;
};

// The outcome of one canary: 0 flipped (predicted == training label), 1 true label, 2 other.
int canary_outcome(int64_t predicted, int64_t training_label, int64_t true_label);

struct CanaryInputs {
  std::vector<int64_t> audit_positions, indices, true_labels, training_labels;  // the IN canaries
  Tensor canary_logits;     // f32 [m, classes], CPU
  Tensor canary_images;     // f32 [m, D...] in the input space, CPU
  Tensor synthetic_images;  // f32 [n, D...] in the input space, CPU
  Tensor synthetic_logits;  // f32 [n, classes], CPU
  std::vector<int64_t> synthetic_labels, synthetic_source;  // per row: label, training index it started from (-1)
};

// The canaries.json document and the counts.
nlohmann::json canary_view(const CanaryInputs& in, CanaryCounts& counts);

}  // namespace sp::distill
