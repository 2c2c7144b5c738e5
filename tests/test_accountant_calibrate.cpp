// Tests of noise calibration (paradigms/dpsgd/calibrate.h): the sigma-for-target-epsilon table of the reference
// note (lira-dpsgd.md §3.6, Opacus's RDP accountant), PRV epsilons at those sigmas, round trips (the returned
// sigma meets the target, 0.1% less noise does not), both bracketing directions, and unreachable targets.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "paradigms/dpsgd/calibrate.h"

namespace sp::dpsgd {
namespace {

struct SigmaRow {
  double q;
  int64_t steps;
  double sigma[4];      // for epsilon = 1, 2, 4, 8 (delta = 1e-5)
  double prv_upper[4];  // PRV upper epsilon at those sigmas, printed to 3 decimals
};
const SigmaRow kRows[] = {
    {256.0 / 50000, 19531, {2.9925, 1.6981, 1.0701, 0.7724}, {0.924, 1.847, 3.692, 7.344}},
    {4096.0 / 50000, 854, {9.7723, 5.2523, 2.9126, 1.7171}, {0.924, 1.846, 3.695, 7.395}},
};
const double kTargets[] = {1.0, 2.0, 4.0, 8.0};

TEST(Calibration, ReferenceSigmaTable) {
  for (const SigmaRow& row : kRows)
    for (int k = 0; k < 4; ++k) {
      const Calibration c = calibrate_noise_rdp(row.q, row.steps, 1e-5, kTargets[k]);
      EXPECT_NEAR(c.noise_multiplier / row.sigma[k], 1.0, 1e-3) << "q=" << row.q << " eps=" << kTargets[k];
      EXPECT_LE(c.epsilon, kTargets[k]);
      EXPECT_EQ(c.epsilon, rdp_epsilon({{row.q, c.noise_multiplier, row.steps}}, 1e-5).epsilon);
    }
}

TEST(Calibration, PrvAtReferenceSigmas) {
  // The B = 4096 row is cheap (854 steps); the 19531-step PRV runs are covered by tests/test_accountant_prv.cpp.
  for (int k = 0; k < 4; ++k) {
    const SigmaRow& row = kRows[1];
    EXPECT_NEAR(prv_epsilon({{row.q, row.sigma[k], row.steps}}, 1e-5).upper, row.prv_upper[k], 1.5e-3)
        << "eps=" << kTargets[k];
  }
}

TEST(Calibration, RdpRoundTrip) {
  for (const auto& [q, steps, target] : {std::tuple{0.01, int64_t(5000), 3.0}, {0.001, int64_t(100000), 0.5},
                                         {0.3, int64_t(30), 3.0}, {1.0, int64_t(1), 1.0}, {0.05, int64_t(20), 50.0}}) {
    const Calibration c = calibrate_noise_rdp(q, steps, 1e-6, target);
    EXPECT_LE(rdp_epsilon({{q, c.noise_multiplier, steps}}, 1e-6).epsilon, target) << "q=" << q;
    EXPECT_GT(rdp_epsilon({{q, c.noise_multiplier * (1 - 1e-3), steps}}, 1e-6).epsilon, target) << "q=" << q;
    EXPECT_GT(c.evaluations, 3);
  }
}

TEST(Calibration, PrvRoundTrip) {
  CalibrationOptions opts;
  opts.rel_tol = 1e-4;
  const Calibration c = calibrate_noise_prv(0.05, 60, 1e-5, 2.0, opts);
  EXPECT_LE(prv_epsilon({{0.05, c.noise_multiplier, 60}}, 1e-5).upper, 2.0);
  EXPECT_GT(prv_epsilon({{0.05, c.noise_multiplier * (1 - 1e-3), 60}}, 1e-5).upper, 2.0);
  // PRV certifies the same target with less noise than RDP.
  EXPECT_LT(c.noise_multiplier, calibrate_noise_rdp(0.05, 60, 1e-5, 2.0).noise_multiplier);
}

TEST(Calibration, GenericBisection) {
  // epsilon = 3 / sigma: the answer is sigma = 3 / target from either side of the starting point 1.
  for (double target : {0.01, 0.5, 3.0, 40.0}) {
    const Calibration c = calibrate_noise([](double s) { return 3.0 / s; }, target);
    EXPECT_GE(c.noise_multiplier, 3.0 / target);
    EXPECT_NEAR(c.noise_multiplier, 3.0 / target, 2e-6 * 3.0 / target);
    EXPECT_LE(c.epsilon, target);
  }
  // A step function: the conservative side of the jump is returned.
  const Calibration step = calibrate_noise([](double s) { return s < 2.5 ? 10.0 : 1.0; }, 5.0);
  EXPECT_GE(step.noise_multiplier, 2.5);
  EXPECT_LT(step.noise_multiplier, 2.5 * (1 + 2e-6));
  // A tolerance below the spacing of doubles ends at adjacent doubles instead of looping forever.
  CalibrationOptions tight;
  tight.rel_tol = 1e-300;
  const Calibration c = calibrate_noise([](double s) { return 3.0 / s; }, 0.7, tight);
  EXPECT_GE(c.noise_multiplier, 3.0 / 0.7);
  EXPECT_LE(c.noise_multiplier, std::nextafter(std::nextafter(3.0 / 0.7, 1e9), 1e9));
  EXPECT_LT(c.evaluations, 200);
}

TEST(Calibration, UnreachableTargetsThrow) {
  // The RDP conversion never goes below ~0.1 at delta = 1e-5 with orders <= 63, whatever sigma.
  try {
    calibrate_noise_rdp(0.01, 100, 1e-5, 0.01);
    FAIL() << "expected sp::Error";
  } catch (const sp::Error& e) {
    EXPECT_NE(std::string(e.what()).find("not reached"), std::string::npos) << e.what();
  }
  EXPECT_THROW(calibrate_noise([](double) { return 0.0; }, 1.0), sp::Error);  // met at every sigma
  EXPECT_THROW(calibrate_noise_rdp(0.01, 100, 1e-5, -1.0), sp::Error);
  EXPECT_THROW(calibrate_noise_rdp(0.01, 100, 1e-5, std::nan("")), sp::Error);
  EXPECT_THROW(calibrate_noise_rdp(0.0, 100, 1e-5, 1.0), sp::Error);
  EXPECT_THROW(calibrate_noise_rdp(0.01, 0, 1e-5, 1.0), sp::Error);
  EXPECT_THROW(calibrate_noise_rdp(0.01, 100, 0.0, 1.0), sp::Error);
}

}  // namespace
}  // namespace sp::dpsgd
