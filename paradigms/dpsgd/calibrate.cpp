// Bracketing + bisection for the noise multiplier. See calibrate.h. Tested by tests/test_accountant_calibrate.cpp.
#include "paradigms/dpsgd/calibrate.h"

#include <cmath>

#include "kernels/error.h"

namespace sp::dpsgd {

Calibration calibrate_noise(const std::function<double(double)>& epsilon_of_sigma, double target_epsilon,
                            const CalibrationOptions& options) {
  SP_CHECK(target_epsilon > 0 && std::isfinite(target_epsilon), "calibrate_noise: target epsilon must be positive, got ",
           target_epsilon);
  SP_CHECK(options.sigma_min > 0 && options.sigma_max > options.sigma_min && options.rel_tol > 0,
           "calibrate_noise: need 0 < sigma_min < sigma_max and rel_tol > 0, got ", options.sigma_min, ", ",
           options.sigma_max, ", ", options.rel_tol);
  Calibration out;
  auto eps = [&](double sigma) {
    ++out.evaluations;
    return epsilon_of_sigma(sigma);
  };
  // Invariant once bracketed: eps(lo) > target >= eps(hi).
  double lo = 0, hi = std::min(1.0, options.sigma_max), eps_hi = eps(hi);
  if (eps_hi > target_epsilon) {
    while (eps_hi > target_epsilon) {
      SP_CHECK(hi < options.sigma_max, "calibrate_noise: target epsilon ", target_epsilon,
               " is not reached by any noise multiplier <= ", options.sigma_max, " (epsilon there is ", eps_hi, ")");
      lo = hi;
      hi = std::min(2.0 * hi, options.sigma_max);
      eps_hi = eps(hi);
    }
  } else {
    lo = hi;
    double eps_lo = eps_hi;
    while (eps_lo <= target_epsilon) {
      SP_CHECK(lo > options.sigma_min, "calibrate_noise: target epsilon ", target_epsilon,
               " is already met at noise multiplier ", options.sigma_min, " (epsilon there is ", eps_lo, ")");
      hi = lo;
      eps_hi = eps_lo;
      lo = std::max(lo / 2.0, options.sigma_min);
      eps_lo = eps(lo);
    }
  }
  // Bisect in log(sigma): the bracket may span decades, and the tolerance is relative.
  while (hi / lo - 1.0 > options.rel_tol) {
    const double mid = std::sqrt(lo * hi);
    // A tolerance below the spacing of doubles would otherwise never be met: stop at adjacent values.
    if (!(mid > lo && mid < hi)) break;
    const double e = eps(mid);
    if (e <= target_epsilon) {
      hi = mid;
      eps_hi = e;
    } else {
      lo = mid;
    }
  }
  out.noise_multiplier = hi;
  out.epsilon = eps_hi;
  return out;
}

Calibration calibrate_noise_rdp(double q, int64_t steps, double delta, double target_epsilon,
                                const CalibrationOptions& options) {
  check_mechanism("calibrate_noise_rdp", {q, 1.0, steps});
  check_delta("calibrate_noise_rdp", delta);
  const std::vector<double> orders = default_rdp_orders();
  return calibrate_noise(
      [&](double sigma) { return rdp_epsilon({{q, sigma, steps}}, delta, orders).epsilon; }, target_epsilon,
      options);
}

Calibration calibrate_noise_prv(double q, int64_t steps, double delta, double target_epsilon,
                                const CalibrationOptions& options, const PrvOptions& prv) {
  check_mechanism("calibrate_noise_prv", {q, 1.0, steps});
  check_delta("calibrate_noise_prv", delta);
  return calibrate_noise([&](double sigma) { return prv_epsilon({{q, sigma, steps}}, delta, prv).upper; },
                         target_epsilon, options);
}

}  // namespace sp::dpsgd
