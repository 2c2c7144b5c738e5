// PRV accountant (Gopi, Lee, Wutschitz 2021, "Numerical composition of differential privacy"): discretise each
// step's privacy loss distribution on a mesh, truncate it to a domain [-L, L] sized by RDP tail bounds, shift it
// so the discrete mean equals the continuous one, compose T steps by raising its FFT to the T-th power, and
// read epsilon(delta) off the composed distribution with error bars. Same error parameters and domain rule as
// Opacus's PRVAccountant; the mesh is refined so the grid has a power-of-two length (tighter, never looser).
// Tested by tests/test_accountant_prv.cpp (golden vectors, exact Gaussian composition at q = 1, PRV <= RDP).
#pragma once
#include <cstddef>
#include <vector>

#include "paradigms/dpsgd/mechanism.h"

namespace sp::dpsgd {

struct PrvOptions {
  double eps_error = 0.01;   // epsilon_error of the reference: half-width of the returned band
  double delta_error = 0;    // 0 selects the reference's default delta / 1000
  size_t max_points = size_t(1) << 23;  // refuse grids larger than this (peak memory ~60 bytes per point)
};

struct PrvEpsilon {
  double lower = 0;     // epsilon(delta + delta_error) - eps_error, clamped at 0
  double estimate = 0;  // epsilon(delta) of the discretised composition
  double upper = 0;     // epsilon(delta - delta_error) + eps_error: the guarantee to report
  double mesh = 0;              // grid spacing used
  size_t points = 0;            // grid length (a power of two)
  double domain_half_width = 0; // L
};

PrvEpsilon prv_epsilon(const std::vector<SubsampledGaussian>& groups, double delta, const PrvOptions& options = {});

// The composed, discretised privacy loss distribution: pmf[k] is the mass at t_min + k * dt.
struct DiscretePld {
  std::vector<double> pmf;
  double t_min = 0;
  double dt = 0;
};
// Composition step of prv_epsilon, exposed for tests: returns the composed distribution on a power-of-two grid
// of spacing <= mesh covering [-half_width, half_width].
DiscretePld compose_prv(const std::vector<SubsampledGaussian>& groups, double half_width, double mesh,
                        size_t max_points = size_t(1) << 23);
// epsilon such that delta(epsilon) = sum_{t_k > epsilon} pmf_k (1 - e^{epsilon - t_k}) equals `delta`, solved
// exactly between grid points (may be negative when delta exceeds delta(t_min)).
double pld_epsilon_for_delta(const DiscretePld& pld, double delta);

}  // namespace sp::dpsgd
