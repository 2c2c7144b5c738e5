// PRV accountant: domain, discretisation with mean correction, FFT composition, epsilon with error bars.
// See prv_accountant.h. Tested by tests/test_accountant_prv.cpp.
#include "paradigms/dpsgd/prv_accountant.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <complex>

#include "kernels/error.h"
#include "paradigms/dpsgd/fft.h"
#include "paradigms/dpsgd/prv_distribution.h"
#include "paradigms/dpsgd/rdp_accountant.h"

namespace sp::dpsgd {
namespace {

int64_t total_steps(const std::vector<SubsampledGaussian>& groups) {
  int64_t t = 0;
  for (const auto& g : groups) t += g.steps;
  return t;
}

// Remark 5.6 of Gopi et al., as Opacus applies it: the composition stays inside [-L, L] except for mass
// delta_error/4 (RDP tail bound of the whole run), each single step except for delta_error/(8T); then 3 nats
// of margin.
double safe_half_width(const std::vector<SubsampledGaussian>& groups, double eps_error, double delta_error) {
  const int64_t t = total_steps(groups);
  double l = rdp_epsilon(groups, delta_error / 4).epsilon;
  for (const auto& g : groups) {
    const SubsampledGaussian one{g.sample_rate, g.noise_multiplier, 1};
    l = std::max(l, rdp_epsilon({one}, delta_error / (8.0 * double(t))).epsilon);
  }
  return std::max(l, eps_error) + 3.0;
}

// exp() of anything below this is 0 in double: spectrum bins that small after composition are dropped.
constexpr double kUnderflow = -750.0;

// Non-negative remainder of a possibly negative value modulo n.
size_t mod_n(int64_t v, size_t n) {
  const int64_t r = v % int64_t(n);
  return size_t(r < 0 ? r + int64_t(n) : r);
}

// Grid t_k = (k + k_min) dt, k_min = -(n/2 - 1): n is the smallest power of two with which t runs from -L to
// L + dt at dt <= mesh (the reference's grid has 2 ceil(L/mesh) + 2 points; rounding up to a power of two
// refines the mesh, which only tightens the bounds).
size_t grid_points(double half_width, double mesh, size_t max_points) {
  SP_CHECK(half_width > 0 && mesh > 0 && std::isfinite(half_width), "prv accountant: domain half-width ", half_width,
           " and mesh ", mesh, " must be positive");
  const double needed = 2.0 * std::ceil(half_width / mesh) + 2.0;
  SP_CHECK(needed <= double(max_points), "prv accountant: the domain [-", half_width, ", ", half_width, "] at mesh ",
           mesh, " needs ", needed, " points, more than the limit ", max_points,
           "; raise eps_error or use the RDP accountant");
  size_t n = 4;
  while (double(n) < needed) n <<= 1;
  return n;
}

}  // namespace

DiscretePld compose_prv(const std::vector<SubsampledGaussian>& groups, double half_width, double mesh,
                        size_t max_points) {
  check_mechanisms("compose_prv", groups);
  const size_t n = grid_points(half_width, mesh, max_points);
  const int64_t k_min = -(int64_t(n) / 2 - 1);
  const double dt = half_width / double(n / 2 - 1);
  const double t_min = double(k_min) * dt, t_max = t_min + double(n - 1) * dt;

  // Bin k holds the mass of (t_k - dt/2, t_k + dt/2], clipped to the truncation interval [t_min, t_max].
  std::vector<double> edges(n + 1);
  edges[0] = t_min;
  for (size_t k = 1; k < n; ++k) edges[k] = t_min + (double(k) - 0.5) * dt;
  edges[n] = t_max;

  const FftPlan plan(n);
  const int64_t t_total = total_steps(groups);
  std::vector<double> log_mag(n / 2 + 1, 0.0), phase(n / 2 + 1, 0.0);
  double total_shift = 0;
  for (const auto& g : groups) {
    const PoissonGaussianPrv prv(g.sample_rate, g.noise_multiplier);
    std::vector<double> pmf = prv.interval_masses(edges);
    long double mass = 0, t_mass = 0;
    for (size_t k = 0; k < n; ++k) mass += pmf[k];
    SP_CHECK(mass > 0, "prv accountant: no probability mass inside [", t_min, ", ", t_max, "]");
    for (size_t k = 0; k < n; ++k) {
      pmf[k] = double(pmf[k] / mass);
      t_mass += (long double)(t_min + double(k) * dt) * pmf[k];
    }
    // Gopi et al. Alg. 1: move the grid so the discretised mean equals the truncated continuous mean; the
    // composed mean is then exact, which is what makes the error of the T-fold sum small.
    const double mean_c = prv.partial_mean(t_min, t_max) / double(mass);
    const double shift = mean_c - double(t_mass);
    SP_CHECK(std::fabs(shift) < dt / 2, "prv accountant: discrete mean ", double(t_mass), " is further than dt/2 = ",
             dt / 2, " from the continuous mean ", mean_c, " (q=", g.sample_rate, ", sigma=", g.noise_multiplier, ")");
    total_shift += double(g.steps) * shift;
    // Composition multiplies spectra: accumulate steps * log|X| and steps * arg X, which keeps |X|^T exact
    // where repeated complex products would underflow or lose phase.
    // Bins whose magnitude has already underflowed (log_mag only falls as groups are added) skip the atan2.
    const std::vector<std::complex<double>> spec = plan.rfft(pmf);
    const double steps = double(g.steps);
    for (size_t k = 0; k <= n / 2; ++k) {
      const double re = spec[k].real(), im = spec[k].imag();
      log_mag[k] += steps * 0.5 * std::log(re * re + im * im);
      if (log_mag[k] > kUnderflow) phase[k] += steps * std::atan2(im, re);
    }
  }
  std::vector<std::complex<double>> spec(n / 2 + 1);
  for (size_t k = 0; k <= n / 2; ++k)
    if (log_mag[k] > kUnderflow) spec[k] = std::polar(std::exp(log_mag[k]), phase[k]);
  const std::vector<double> cyclic = plan.irfft(spec);

  // A sum of T grid values sits at index sum(k) + T k_min; storing it at index K on the same grid
  // (t = (K + k_min) dt) means K = sum(k) + (T - 1) k_min, i.e. the cyclic result rotated by (T - 1) k_min.
  const size_t rot = mod_n(-((t_total - 1) % int64_t(n)) * k_min, n);
  DiscretePld pld;
  pld.pmf.resize(n);
  for (size_t k = 0; k < n; ++k) pld.pmf[k] = cyclic[(k + rot) % n];
  pld.t_min = t_min + total_shift;
  pld.dt = dt;
  return pld;
}

double pld_epsilon_for_delta(const DiscretePld& pld, double delta) {
  const size_t n = pld.pmf.size();
  SP_CHECK(n >= 2 && pld.dt > 0, "pld_epsilon_for_delta: empty distribution");
  // delta(t_i) = sum_{j>=i} p_j (1 - e^{t_i - t_j}) = d1_i - D_i with the tail mass d1_i = sum_{j>=i} p_j and
  // D_i = sum_{j>=i} p_j e^{-(t_j - t_i)} = p_i + e^{-dt} D_{i+1} (a recurrence: no exp per point). delta(t)
  // falls as t grows: scan down from the top for the first grid point whose delta exceeds the target; epsilon
  // then lies in (t_i, t_{i+1}], where delta(eps) = d1_{i+1} - e^{eps - t_{i+1}} D_{i+1} is solved exactly.
  // Starting from the top keeps the tail sums accurate and, should round-off make delta(t) wiggle, picks the
  // largest crossing.
  const long double decay = std::exp(-(long double)pld.dt);
  long double d1 = 0, big_d = 0;
  for (size_t idx = n; idx-- > 0;) {
    const long double d1_here = d1 + pld.pmf[idx];
    const long double big_d_here = pld.pmf[idx] + decay * big_d;
    if (d1_here - big_d_here > delta) {
      SP_CHECK(idx + 1 < n, "pld_epsilon_for_delta: delta ", delta, " is not reached inside the domain");
      const double t_next = pld.t_min + double(idx + 1) * pld.dt;
      return t_next + double(std::log((d1 - delta) / big_d));
    }
    d1 = d1_here;
    big_d = big_d_here;
  }
  // Every grid point meets the target: epsilon <= t_min (solve on the whole distribution).
  return pld.t_min + double(std::log((d1 - delta) / big_d));
}

PrvEpsilon prv_epsilon(const std::vector<SubsampledGaussian>& groups, double delta, const PrvOptions& options) {
  check_mechanisms("prv_epsilon", groups);
  check_delta("prv_epsilon", delta);
  const double eps_error = options.eps_error;
  const double delta_error = options.delta_error > 0 ? options.delta_error : delta / 1000.0;
  SP_CHECK(eps_error > 0 && std::isfinite(eps_error), "prv_epsilon: eps_error must be positive, got ", eps_error);
  SP_CHECK(delta_error > 0 && delta_error < delta, "prv_epsilon: delta_error must be in (0, delta = ", delta,
           "), got ", delta_error);
  const int64_t t = total_steps(groups);

  PrvEpsilon out;
  out.domain_half_width = safe_half_width(groups, eps_error, delta_error);
  // Mesh from Gopi et al. Thm 5.5 as the reference sets it: eps_error / sqrt(T log(12/delta_error) / 2).
  const double mesh = eps_error / std::sqrt(double(t) * std::log(12.0 / delta_error) / 2.0);
  out.points = grid_points(out.domain_half_width, mesh, options.max_points);
  // FFT round-off leaves ~1e-16 per point and grows with T in the spectrum powers: it must stay below the
  // delta being resolved.
  SP_CHECK(DBL_EPSILON * double(out.points + size_t(t)) < delta - delta_error, "prv_epsilon: delta ", delta,
           " is too small for a ", out.points, "-point grid and ", t,
           " steps (round-off would dominate); raise delta or use the RDP accountant");
  const DiscretePld pld = compose_prv(groups, out.domain_half_width, mesh, options.max_points);
  out.mesh = pld.dt;
  out.estimate = std::max(0.0, pld_epsilon_for_delta(pld, delta));
  out.upper = std::max(0.0, pld_epsilon_for_delta(pld, delta - delta_error) + eps_error);
  out.lower = std::max(0.0, pld_epsilon_for_delta(pld, delta + delta_error) - eps_error);
  return out;
}

}  // namespace sp::dpsgd
