// Renyi-DP accountant for the Poisson-subsampled Gaussian mechanism (Mironov, Talwar, Zhang 2019): the RDP
// curve eps_RDP(alpha) over a grid of orders, composition over steps and groups of steps, and conversion to
// (epsilon, delta) with the improved bound of Balle et al. 2020 (Thm 21). Matches Opacus's RDP accountant.
// Tested by tests/test_accountant_rdp.cpp (golden vectors, long-double direct sums and quadrature, edge cases).
#pragma once
#include <cstddef>
#include <string>
#include <vector>

#include "paradigms/dpsgd/mechanism.h"

namespace sp::dpsgd {

// Opacus's default orders: {1.1, 1.2, ..., 10.9} (as 1 + x/10, so 2.0, ..., 10.0 are integers) and {12, ..., 63}.
std::vector<double> default_rdp_orders();

// RDP epsilon of ONE step at order alpha > 1, for q in [0, 1] and sigma >= 0. Edge cases: q = 0 -> 0,
// sigma = 0 -> +inf, q = 1 -> alpha / (2 sigma^2) (the plain Gaussian mechanism).
double rdp_poisson_gaussian(double q, double sigma, double alpha);

// Sum over the groups of steps * (per-step RDP), at every order: composition adds RDP curves.
std::vector<double> rdp_curve(const std::vector<SubsampledGaussian>& groups, const std::vector<double>& orders);

struct RdpEpsilon {
  double epsilon = 0;      // the (epsilon, delta) guarantee, clamped at 0
  double best_order = 0;   // the order attaining the minimum
  size_t best_index = 0;
  bool at_grid_edge = false;  // the minimum sits at the smallest or largest order: the grid may be too narrow
  std::string warning;        // human-readable note when at_grid_edge, else empty
};

// epsilon = min over alpha of [rdp(alpha) + log((alpha-1)/alpha) - (log delta + log alpha)/(alpha-1)].
// Orders with a non-finite RDP value are skipped; all of them non-finite gives epsilon = +inf.
RdpEpsilon rdp_to_epsilon(const std::vector<double>& orders, const std::vector<double>& rdp, double delta);

// The whole pipeline for a run: validates the groups and delta, then rdp_curve and rdp_to_epsilon.
RdpEpsilon rdp_epsilon(const std::vector<SubsampledGaussian>& groups, double delta,
                       const std::vector<double>& orders = default_rdp_orders());

namespace detail {
// log A_alpha, A_alpha = E_{z ~ N(0, sigma^2)}[(1 - q + q exp((2z - 1)/(2 sigma^2)))^alpha], for 0 < q < 1.
// Integer alpha: the finite binomial expansion, summed as log(A - 1) over positive terms (no cancellation,
// so tiny q keeps full relative precision).
double log_a_integer(double q, double sigma, long alpha);
// Any real alpha > 1 (integer too): the two erfc-weighted series of Mironov et al. summed for A itself
// (series_direct, any q < 1), or rearranged to give A - 1 (series_small_q, q < 1/2, full relative precision
// for tiny q). log_a_fractional uses the latter for q <= 0.4. `terms` receives how many indices were summed.
double log_a_fractional(double q, double sigma, double alpha, long* terms = nullptr);
double log_a_series_direct(double q, double sigma, double alpha, long* terms = nullptr);
double log_a_series_small_q(double q, double sigma, double alpha, long* terms = nullptr);
}  // namespace detail

}  // namespace sp::dpsgd
