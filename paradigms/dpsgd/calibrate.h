// Noise calibration: the smallest noise multiplier sigma whose epsilon (from the RDP or PRV accountant) does not
// exceed a target, by geometric bracketing and bisection on sigma. The returned sigma is always the
// conservative end of the final bracket, so epsilon(sigma) <= target holds for the value handed back.
// Tested by tests/test_accountant_calibrate.cpp (reference sigma table, round trips, unreachable targets).
#pragma once
#include <functional>

#include "paradigms/dpsgd/prv_accountant.h"
#include "paradigms/dpsgd/rdp_accountant.h"

namespace sp::dpsgd {

struct CalibrationOptions {
  double sigma_min = 1e-3;   // below this every accountant reports epsilon in the thousands: give up
  double sigma_max = 1e6;    // Opacus's limit: a target not met at this sigma is unreachable
  double rel_tol = 1e-6;     // stop when the bracket [lo, hi] has hi / lo - 1 <= rel_tol
};

struct Calibration {
  double noise_multiplier = 0;  // sigma with epsilon(sigma) <= target
  double epsilon = 0;           // epsilon(sigma)
  int evaluations = 0;          // accountant calls made
};

// epsilon_of_sigma must decrease (weakly) with sigma. Throws sp::Error when the target is not reached at
// sigma_max, or is already met at sigma_min.
Calibration calibrate_noise(const std::function<double(double)>& epsilon_of_sigma, double target_epsilon,
                            const CalibrationOptions& options = {});

// For `steps` steps of rate q at the given delta, with the RDP accountant (default orders) or the PRV upper bound.
Calibration calibrate_noise_rdp(double q, int64_t steps, double delta, double target_epsilon,
                                const CalibrationOptions& options = {});
Calibration calibrate_noise_prv(double q, int64_t steps, double delta, double target_epsilon,
                                const CalibrationOptions& options = {}, const PrvOptions& prv = {});

}  // namespace sp::dpsgd
