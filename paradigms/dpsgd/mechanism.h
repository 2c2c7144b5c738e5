// The mechanism both accountants analyse: `steps` applications of the Gaussian mechanism (noise multiplier
// sigma, sensitivity 1) to a Poisson subsample of rate q, under add/remove-one adjacency. A training run is a
// list of such groups (heterogeneous composition: schedules that change q or sigma). Parameter checks live
// here so the RDP, PRV and calibration code reject the same inputs with the same messages.
// Tested through tests/test_accountant_rdp.cpp and tests/test_accountant_prv.cpp (bad-input cases).
#pragma once
#include <cmath>
#include <cstdint>
#include <vector>

#include "kernels/error.h"

namespace sp::dpsgd {

struct SubsampledGaussian {
  double sample_rate = 0;       // q: probability that an example is in a step's batch
  double noise_multiplier = 0;  // sigma: noise std divided by the clipping norm
  int64_t steps = 0;            // T: how many times this step is composed
};

// q in (0, 1], sigma > 0 and finite, steps >= 1.
inline void check_mechanism(const char* who, const SubsampledGaussian& m) {
  SP_CHECK(m.sample_rate > 0 && m.sample_rate <= 1, who, ": sample rate q must be in (0, 1], got ", m.sample_rate);
  SP_CHECK(m.noise_multiplier > 0 && std::isfinite(m.noise_multiplier), who,
           ": noise multiplier sigma must be positive and finite, got ", m.noise_multiplier);
  SP_CHECK(m.steps >= 1, who, ": steps must be >= 1, got ", m.steps);
}
inline void check_delta(const char* who, double delta) {
  SP_CHECK(delta > 0 && delta < 1, who, ": delta must be in (0, 1), got ", delta);
}
inline void check_mechanisms(const char* who, const std::vector<SubsampledGaussian>& ms) {
  SP_CHECK(!ms.empty(), who, ": no mechanism to account for (empty list)");
  for (const auto& m : ms) check_mechanism(who, m);
}

}  // namespace sp::dpsgd
