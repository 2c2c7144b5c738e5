// Distribution of the Poisson-subsampled Gaussian privacy loss. See prv_distribution.h.
// Tested by tests/test_accountant_prv.cpp.
#include "paradigms/dpsgd/prv_distribution.h"

#include <boost/math/quadrature/gauss.hpp>

#include <algorithm>
#include <cmath>
#include <numbers>
#include <utility>
#include <vector>

#include "kernels/error.h"
#include "paradigms/dpsgd/special_math.h"

namespace sp::dpsgd {

PoissonGaussianPrv::PoissonGaussianPrv(double q, double sigma) : q_(q), sigma_(sigma) {
  SP_CHECK(q > 0 && q <= 1, "PoissonGaussianPrv: sample rate q must be in (0, 1], got ", q);
  SP_CHECK(sigma > 0 && std::isfinite(sigma), "PoissonGaussianPrv: noise multiplier must be positive, got ", sigma);
}

double PoissonGaussianPrv::loss_at(double x) const {
  const double v = (2.0 * x - 1.0) / (2.0 * sigma_ * sigma_);  // log of the component ratio N(1,s^2)/N(0,s^2)
  if (v > 30.0) return v + std::log(q_) + std::log1p((1.0 - q_) / q_ * std::exp(-v));
  const double u = q_ * std::expm1(v);  // loss = log1p(u); exact unless u is close to -1 (q near 1, v << 0)
  if (u > -0.5) return std::log1p(u);
  return log_add(std::log1p(-q_), std::log(q_) + v);
}

double PoissonGaussianPrv::x_at_loss(double t) const {
  const double r = std::expm1(t) / q_;  // e^{v} - 1 where v is the component log-ratio
  if (!(r > -1.0)) return -kInf;
  return sigma_ * sigma_ * std::log1p(r) + 0.5;
}

double PoissonGaussianPrv::cdf(double t) const {
  const double x = x_at_loss(t);
  return (1.0 - q_) * normal_tails(x / sigma_).lower + q_ * normal_tails((x - 1.0) / sigma_).lower;
}

std::vector<double> PoissonGaussianPrv::interval_masses(const std::vector<double>& edges) const {
  SP_CHECK(edges.size() >= 2, "PoissonGaussianPrv::interval_masses: need at least two edges, got ", edges.size());
  std::vector<double> masses(edges.size() - 1);
  double u0_prev = 0, u1_prev = 0;
  NormalTails n0_prev{}, n1_prev{};
  for (size_t k = 0; k < edges.size(); ++k) {
    const double x = x_at_loss(edges[k]);
    const double u0 = x / sigma_, u1 = (x - 1.0) / sigma_;
    const NormalTails n0 = normal_tails(u0), n1 = normal_tails(u1);
    if (k > 0) {
      SP_CHECK(edges[k] >= edges[k - 1], "PoissonGaussianPrv::interval_masses: edges must ascend (edge ", k, ")");
      masses[k - 1] = (1.0 - q_) * normal_interval(n0_prev, u0_prev, n0, u0) +
                      q_ * normal_interval(n1_prev, u1_prev, n1, u1);
    }
    u0_prev = u0;
    u1_prev = u1;
    n0_prev = n0;
    n1_prev = n1;
  }
  return masses;
}

double PoissonGaussianPrv::density_x(double x) const {
  const double inv = 1.0 / (sigma_ * std::sqrt(2.0 * std::numbers::pi));
  const double a = x / sigma_, b = (x - 1.0) / sigma_;
  return inv * ((1.0 - q_) * std::exp(-0.5 * a * a) + q_ * std::exp(-0.5 * b * b));
}

double PoissonGaussianPrv::partial_mean(double a, double b) const {
  // Beyond 40 s from both component means (0 and 1) the density is below e^{-800}: only those two windows are
  // integrated (one window where they overlap), so a small sigma does not spread panels over empty space.
  const double w = 40.0 * sigma_;
  const std::vector<std::pair<double, double>> windows =
      1.0 - w <= w ? std::vector<std::pair<double, double>>{{-w, 1.0 + w}}
                   : std::vector<std::pair<double, double>>{{-w, w}, {1.0 - w, 1.0 + w}};
  const double lo = x_at_loss(a), hi = x_at_loss(b);
  // The log-ratio is analytic in a strip of half-width pi s^2 around the real axis (its nearest singularity is
  // where 1 - q + q e^v = 0), the density in the whole plane: Gauss-Legendre panels a quarter of the narrower scale
  // converge to double precision (Boost.Math's 15-point Gauss-Legendre rule per panel).
  const double h_max = 0.25 * std::min(sigma_, std::numbers::pi * sigma_ * sigma_);
  // The panel count grows as 1/sigma: past this budget (sigma below about 1e-4, where no privacy is left to
  // account) the work would be minutes, so it is refused instead.
  constexpr double kMaxPanels = 2e6;
  double needed = 0;
  for (const auto& [wl, wh] : windows)
    if (std::min(hi, wh) > std::max(lo, wl)) needed += std::ceil((std::min(hi, wh) - std::max(lo, wl)) / h_max);
  SP_CHECK(needed <= kMaxPanels, "PRV accountant: noise multiplier ", sigma_, " is too small for its quadrature (",
           needed, " panels, at most ", kMaxPanels, "); such a sigma leaves no meaningful privacy guarantee: use "
           "the RDP accountant");
  auto integrand = [this](double x) { return loss_at(x) * density_x(x); };
  long double total = 0;
  for (const auto& [wl, wh] : windows) {
    const double l = std::max(lo, wl), u = std::min(hi, wh);
    if (!(u > l)) continue;
    const long panels = std::max(1L, long(std::ceil((u - l) / h_max)));
    const double h = (u - l) / double(panels);
    for (long p = 0; p < panels; ++p)
      total += boost::math::quadrature::gauss<double, 15>::integrate(integrand, l + double(p) * h, l + double(p + 1) * h);
  }
  return double(total);
}

}  // namespace sp::dpsgd
