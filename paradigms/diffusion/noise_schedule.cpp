// The linear DDPM schedule, q(x_t | x0) and DDIM's timestep sub-sequence (see noise_schedule.h).
#include "paradigms/diffusion/noise_schedule.h"

#include <cmath>

#include "kernels/elementwise.h"

namespace sp::diffusion {

NoiseSchedule NoiseSchedule::linear(int64_t T, double beta_start, double beta_end) {
  SP_CHECK(T >= 1, "NoiseSchedule: T = ", T, " must be at least 1");
  for (double b : {beta_start, beta_end})
    SP_CHECK(std::isfinite(b) && b > 0 && b < 1, "NoiseSchedule: beta_start ", beta_start, " and beta_end ",
             beta_end, " must lie in (0, 1)");
  NoiseSchedule ns;
  ns.T = T;
  ns.beta.resize(size_t(T));
  ns.alpha.resize(size_t(T));
  ns.alpha_bar.resize(size_t(T));
  // numpy's linspace: start + i * step, with the endpoint written exactly (§7.2 uses np.linspace in float64).
  const double step = T > 1 ? (beta_end - beta_start) / double(T - 1) : 0.0;
  double prod = 1.0;
  for (int64_t t = 0; t < T; ++t) {
    const double b = (T > 1 && t == T - 1) ? beta_end : beta_start + double(t) * step;
    ns.beta[size_t(t)] = b;
    ns.alpha[size_t(t)] = 1.0 - b;
    prod *= 1.0 - b;
    ns.alpha_bar[size_t(t)] = prod;
  }
  return ns;
}

double NoiseSchedule::alpha_bar_at(int64_t t) const {
  if (t == -1) return 1.0;
  SP_CHECK(t >= 0 && t < T, "NoiseSchedule: timestep t = ", t, " outside [-1, ", T, ")");
  return alpha_bar[size_t(t)];
}

namespace {

// A [N, 1, ..., 1] column of per-row values in dtype dt on s's device, broadcastable against [N, ...].
Tensor row_column(Stream& s, const std::vector<double>& v, int rank, DType dt) {
  Shape shape{int64_t(v.size())};
  for (int d = 1; d < rank; ++d) shape.push_back(1);
  return Tensor::from_vector(v, shape).to(dt).to(s.device(), s);
}

}  // namespace

void q_sample(Stream& s, const NoiseSchedule& ns, const Tensor& out, const Tensor& x0, const Tensor& eps,
              const std::vector<int64_t>& t) {
  check_same_shape("q_sample", x0, eps);
  check_same_shape("q_sample", out, x0);
  SP_CHECK(x0.dim() >= 1 && x0.size(0) == int64_t(t.size()), "q_sample: ", t.size(), " timesteps for x0 ",
           x0.str(), " (one per row)");
  SP_CHECK(x0.device() == s.device(), "q_sample: x0 ", x0.str(), " is not on the stream's device ", s.device());
  std::vector<double> a(t.size()), b(t.size());
  for (size_t i = 0; i < t.size(); ++i) {
    SP_CHECK(t[i] >= 0 && t[i] < ns.T, "q_sample: timestep t[", i, "] = ", t[i], " outside [0, ", ns.T, ")");
    const double ab = ns.alpha_bar[size_t(t[i])];
    a[i] = std::sqrt(ab);
    b[i] = std::sqrt(1.0 - ab);
  }
  if (t.empty()) return;
  // One broadcast multiply per term instead of one axpby per row: two launches whatever N is.
  binary(s, out, row_column(s, a, x0.dim(), x0.dtype()), x0, BinaryOp::mul);
  binary(s, out, row_column(s, b, x0.dim(), x0.dtype()), eps, BinaryOp::mul, 1.0, 1.0);
}

std::vector<int64_t> ddim_timesteps(int64_t T, int64_t steps) {
  SP_CHECK(steps >= 1 && steps <= T, "ddim_timesteps: steps = ", steps, " must lie in [1, T] with T = ", T);
  const int64_t k = T / steps;
  std::vector<int64_t> tau(static_cast<size_t>(steps));
  for (int64_t i = 0; i < steps; ++i) tau[size_t(i)] = i * k;
  return tau;
}

}  // namespace sp::diffusion
