// The privacy loss random variable (PRV) of one Poisson-subsampled Gaussian step: with
// P = (1-q) N(0, s^2) + q N(1, s^2) and Q = N(0, s^2), Y = log(P(X)/Q(X)) = log(1 - q + q e^{(2X-1)/(2 s^2)}),
// X ~ P. Y is increasing in X, so its distribution is that of X pushed through the log-ratio: cdf, interval
// masses and the partial mean E[Y; a < Y <= b] are computed in X space, where they are Gaussian integrals.
// Tested by tests/test_accountant_prv.cpp (q = 1 is exactly Gaussian; the mean is the KL divergence).
#pragma once
#include <vector>

namespace sp::dpsgd {

class PoissonGaussianPrv {
 public:
  PoissonGaussianPrv(double q, double sigma);  // q in (0, 1], sigma > 0

  // The privacy loss at X = x (stable for all x, also q = 1 and tiny q).
  double loss_at(double x) const;
  // The x whose privacy loss is t; -inf for t <= log(1 - q), where Y has no mass.
  double x_at_loss(double t) const;
  // P(Y <= t).
  double cdf(double t) const;
  // P(edges[k] < Y <= edges[k+1]) for ascending edges, each difference taken on the side of the mixture
  // components' tails where it does not cancel (bin masses far in the tails keep their relative precision).
  std::vector<double> interval_masses(const std::vector<double>& edges) const;
  // E[Y; a < Y <= b] by composite Gauss-Legendre in x over the Gaussian bulk (panels narrower than both the
  // noise scale s and the log-ratio's curvature scale s^2).
  double partial_mean(double a, double b) const;

  double q() const { return q_; }
  double sigma() const { return sigma_; }

 private:
  double density_x(double x) const;  // the density of X ~ P
  double q_, sigma_;
};

}  // namespace sp::dpsgd
