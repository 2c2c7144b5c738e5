// Per-sample scores of the score-based coreset methods, computed on the host from one selection model's
// eval-mode logits (and penultimate features for GraNd). Higher always means "keep first":
//   el2n         ||softmax(z) - onehot(y)||_2, the error-vector norm early in training (Paul et al., "Deep
//                Learning on a Data Diet", NeurIPS 2021);
//   grand        the norm of the cross-entropy gradient with respect to the final linear layer's weights and
//                bias, ||p - y||_2 * sqrt(||h||^2 + 1) in closed form for features h (Paul et al. 2021, as
//                DeepCore restricts it to the last layer);
//   uncertainty  least confidence 1 - max_c p_c, entropy -sum_c p_c log p_c, or the negative margin
//                p_second - p_top (Coleman et al., "Selection via Proxy", ICLR 2020).
// The softmax is evaluated in double after subtracting the row maximum. Tested against hand-computed values
// in tests/test_coreset_scores.cpp.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "paradigms/coreset/coreset_config.h"

namespace sp::coreset {

std::vector<double> softmax(std::span<const float> logits);
double el2n_score(std::span<const float> logits, int64_t label);
double grand_score(std::span<const float> logits, int64_t label, std::span<const float> features);
double uncertainty_score(std::span<const float> logits, Uncertainty kind);

// Row-wise over logits [n, C] (and features [n, F] for grand): the method's score of every sample.
// method: el2n, grand or uncertainty.
std::vector<double> score_rows(Method method, Uncertainty kind, const std::vector<float>& logits, int64_t C,
                               const std::vector<int64_t>& labels, const std::vector<float>& features, int64_t F);

}  // namespace sp::coreset
