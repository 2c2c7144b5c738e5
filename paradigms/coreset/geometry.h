// The geometry-based coreset methods: greedy choices in the selection model's penultimate feature space,
// run per pool (per class when balanced).
//   herding   picks, one at a time, the sample that keeps the mean of the chosen features closest (Euclidean)
//             to the pool's mean feature (Welling, "Herding Dynamical Weights to Learn", ICML 2009; Chen
//             et al., "Super-Samples from Kernel Herding", UAI 2010; as in DeepCore);
//   kcenter   k-Center Greedy: starting from one seeded random sample, repeatedly adds the sample farthest
//             from its nearest chosen centre, a 2-approximation of the minimax cover (Sener & Savarese,
//             "Active Learning for Convolutional Neural Networks: A Core-Set Approach", ICLR 2018).
// Both run in O(budget * pool * F) with incremental sums / nearest distances in double, and break ties by
// the lowest position. features: row-major [n, F] indexed by position. Tested against brute force on tiny
// inputs in tests/test_coreset_geometry.cpp.
#pragma once
#include <cstdint>
#include <vector>

#include "paradigms/coreset/budget.h"

namespace sp::coreset {

// Positions in the order chosen.
std::vector<int64_t> herding(const std::vector<float>& features, int64_t F, const Pool& pool, int64_t budget);
std::vector<int64_t> kcenter_greedy(const std::vector<float>& features, int64_t F, const Pool& pool, int64_t budget,
                                    uint64_t seed);

}  // namespace sp::coreset
