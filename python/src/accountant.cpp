// Python bindings of the DP-SGD privacy accountants (paradigms/dpsgd/): epsilon of the Poisson-subsampled
// Gaussian mechanism from the RDP accountant (with its curve over the orders) and the PRV accountant, and the
// calibration of the noise multiplier to a target epsilon, with sp_accountant's defaults. A run may compose
// several groups of steps (sample_rate, noise_multiplier and steps given as equal-length sequences). Tested by
// python/tests/test_accountant.py (the same numbers as the sp_accountant CLI) and test_errors.py.
#include "paradigms/dpsgd/calibrate.h"
#include "paradigms/dpsgd/prv_accountant.h"
#include "paradigms/dpsgd/rdp_accountant.h"
#include "python/src/bindings.h"
#include "python/src/py_util.h"

namespace sp::py {
namespace {

using namespace sp::dpsgd;

// A number or a 1-D sequence of numbers.
template <class T>
std::vector<T> numbers(py::handle obj, const char* name) {
  SP_CHECK(!obj.is_none(), name, ": a number (or a sequence of numbers) is required, got None");
  if (py::isinstance<py::bool_>(obj)) SP_FAIL(name, ": expected a number, got a bool");
  py::array a = py::array::ensure(obj);
  SP_CHECK(a && a.ndim() <= 1, name, ": expected a number or a 1-D sequence of numbers");
  const char kind = a.dtype().kind();
  SP_CHECK(kind == 'f' || kind == 'i' || kind == 'u', name, ": expected numbers, got dtype ",
           std::string(py::str(a.dtype())));
  if (std::is_integral_v<T>) SP_CHECK(kind != 'f', name, ": expected integers, got dtype ", std::string(py::str(a.dtype())));
  carray<T> v = carray<T>::ensure(a);
  return std::vector<T>(v.data(), v.data() + v.size());
}

// The groups of steps: scalars apply to every group, sequences must have the same length.
std::vector<SubsampledGaussian> groups(py::handle q_obj, py::handle sigma_obj, py::handle steps_obj) {
  const std::vector<double> q = numbers<double>(q_obj, "sample_rate"), sigma = numbers<double>(sigma_obj, "noise_multiplier");
  const std::vector<int64_t> t = numbers<int64_t>(steps_obj, "steps");
  const size_t n = std::max({q.size(), sigma.size(), t.size()});
  for (size_t len : {q.size(), sigma.size(), t.size()})
    SP_CHECK(len == 1 || len == n, "sample_rate, noise_multiplier and steps: sequences of different lengths (",
             q.size(), ", ", sigma.size(), ", ", t.size(), ")");
  std::vector<SubsampledGaussian> g(n);
  for (size_t k = 0; k < n; ++k)
    g[k] = {q[q.size() == 1 ? 0 : k], sigma[sigma.size() == 1 ? 0 : k], t[t.size() == 1 ? 0 : k]};
  return g;
}

std::vector<double> orders_or_default(py::handle orders) {
  if (orders.is_none()) return default_rdp_orders();
  std::vector<double> o = numbers<double>(orders, "orders");
  SP_CHECK(!o.empty(), "orders: empty");
  for (double a : o) SP_CHECK(a > 1, "orders: every order must be > 1, got ", a);
  return o;
}

PrvOptions prv_options(double eps_error, py::handle delta_error) {
  PrvOptions p;
  p.eps_error = eps_error;
  p.delta_error = delta_error.is_none() ? 0.0 : delta_error.cast<double>();
  if (!delta_error.is_none())
    SP_CHECK(p.delta_error > 0, "delta_error must be positive (leave it out for delta / 1000), got ", p.delta_error);
  return p;
}

py::dict rdp_epsilon_py(py::handle q, py::handle sigma, py::handle steps, double delta, py::handle orders) {
  const std::vector<SubsampledGaussian> g = groups(q, sigma, steps);
  const std::vector<double> o = orders_or_default(orders);
  RdpEpsilon e;
  {
    py::gil_scoped_release nogil;
    e = rdp_epsilon(g, delta, o);
  }
  py::dict d;
  d["epsilon"] = e.epsilon;
  d["best_order"] = e.best_order;
  d["order_at_grid_edge"] = e.at_grid_edge;
  d["warning"] = e.warning.empty() ? py::object(py::none()) : py::object(py::str(e.warning));
  return d;
}

py::array rdp_curve_py(py::handle q, py::handle sigma, py::handle steps, py::handle orders) {
  const std::vector<SubsampledGaussian> g = groups(q, sigma, steps);
  check_mechanisms("rdp_curve", g);
  std::vector<double> o = orders_or_default(orders);
  std::vector<double> r = rdp_curve(g, o);
  const py::ssize_t n = py::ssize_t(r.size());
  return to_numpy(std::move(r), {n});
}

py::dict prv_epsilon_py(py::handle q, py::handle sigma, py::handle steps, double delta, double eps_error,
                        py::handle delta_error) {
  const std::vector<SubsampledGaussian> g = groups(q, sigma, steps);
  const PrvOptions p = prv_options(eps_error, delta_error);
  PrvEpsilon e;
  {
    py::gil_scoped_release nogil;
    e = prv_epsilon(g, delta, p);
  }
  py::dict d;
  d["epsilon"] = e.upper;
  d["epsilon_lower"] = e.lower;
  d["epsilon_estimate"] = e.estimate;
  d["epsilon_upper"] = e.upper;
  d["eps_error"] = p.eps_error;
  d["delta_error"] = p.delta_error > 0 ? p.delta_error : delta / 1000.0;
  d["mesh"] = e.mesh;
  d["domain_points"] = e.points;
  d["domain_half_width"] = e.domain_half_width;
  return d;
}

py::dict calibrate_py(double q, int64_t steps, double delta, double target, const std::string& accountant,
                      py::handle tolerance, double eps_error, py::handle delta_error) {
  check_choice(accountant, "accountant", {"rdp", "prv"});
  const bool prv = accountant == "prv";
  CalibrationOptions o;
  // sp_accountant's defaults: PRV evaluations are slow and carry eps_error anyway.
  o.rel_tol = tolerance.is_none() ? (prv ? 1e-4 : 1e-6) : tolerance.cast<double>();
  SP_CHECK(o.rel_tol > 0 && o.rel_tol < 1, "tolerance must be in (0, 1), got ", o.rel_tol);
  const PrvOptions p = prv_options(eps_error, delta_error);
  Calibration c;
  {
    py::gil_scoped_release nogil;
    c = prv ? calibrate_noise_prv(q, steps, delta, target, o, p) : calibrate_noise_rdp(q, steps, delta, target, o);
  }
  py::dict d;
  d["noise_multiplier"] = c.noise_multiplier;
  d["epsilon"] = c.epsilon;
  d["evaluations"] = c.evaluations;
  return d;
}

}  // namespace

void bind_accountant(py::module_& m) {
  m.def("rdp_epsilon", &rdp_epsilon_py, py::arg("sample_rate"), py::arg("noise_multiplier"), py::arg("steps"),
        py::arg("delta"), py::kw_only(), py::arg("orders") = py::none(),
        R"doc(Epsilon of DP-SGD (Poisson sampling rate q, noise multiplier sigma, T steps) at delta from the RDP
accountant (Opacus's orders unless given): {epsilon, best_order, order_at_grid_edge, warning}. The first three
arguments may be equal-length sequences: groups of steps composed.)doc");
  m.def("rdp_curve", &rdp_curve_py, py::arg("sample_rate"), py::arg("noise_multiplier"), py::arg("steps"),
        py::kw_only(), py::arg("orders") = py::none(),
        "The composed RDP epsilon at each order (default_rdp_orders() unless given).");
  m.def(
      "default_rdp_orders",
      []() {
        std::vector<double> o = default_rdp_orders();
        const py::ssize_t n = py::ssize_t(o.size());
        return to_numpy(std::move(o), {n});
      },
      "Opacus's default RDP orders: 1.1, 1.2, ..., 10.9 and 12, ..., 63.");
  m.def("prv_epsilon", &prv_epsilon_py, py::arg("sample_rate"), py::arg("noise_multiplier"), py::arg("steps"),
        py::arg("delta"), py::kw_only(), py::arg("eps_error") = 0.01, py::arg("delta_error") = py::none(),
        R"doc(Epsilon from the PRV accountant (Gopi et al. 2021): {epsilon (the upper bound, to report),
epsilon_lower, epsilon_estimate, epsilon_upper, eps_error, delta_error (default delta / 1000), mesh,
domain_points, domain_half_width}, as sp_accountant --accountant prv prints them.)doc");
  m.def("calibrate_noise", &calibrate_py, py::arg("sample_rate"), py::arg("steps"), py::arg("delta"),
        py::arg("target_epsilon"), py::kw_only(), py::arg("accountant") = "rdp", py::arg("tolerance") = py::none(),
        py::arg("eps_error") = 0.01, py::arg("delta_error") = py::none(),
        R"doc(The smallest noise multiplier whose epsilon ("rdp" or "prv" upper bound) is at most target_epsilon:
{noise_multiplier, epsilon, evaluations}. tolerance: relative width of the final bracket on sigma (default 1e-6
for rdp, 1e-4 for prv, as sp_accountant).)doc");
}

}  // namespace sp::py
